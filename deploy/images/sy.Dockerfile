# The three binaries (sy-intake, sy-projection, sy) on the offline base:
# deploy/images/build.sh builds them on this host and puts them in bin/
# beside this file. The connected path (deploy/Dockerfile) builds the same
# image from rust:1-bookworm and debian:bookworm-slim.
ARG BASE=shuangyong-base:bookworm
FROM ${BASE}
COPY runtime.sh /tmp/runtime.sh
RUN sh /tmp/runtime.sh && rm /tmp/runtime.sh
COPY bin/ /usr/local/bin/
USER shuangyong:shuangyong
WORKDIR /var/lib/shuangyong
ENV SY_LOG_FORMAT=json \
    SY_DATA_DIR=/var/lib/shuangyong/projection
EXPOSE 50051 50052
CMD ["sy-intake"]
