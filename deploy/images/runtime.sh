#!/bin/sh
# The services' user and data directory, the same in the offline image
# (sy.Dockerfile) and the connected one (deploy/Dockerfile): uid 10001, which
# the deployment's secrets are chowned to.
set -eu
groupadd --system --gid 10001 shuangyong
useradd --system --uid 10001 --gid shuangyong --home-dir /var/lib/shuangyong --shell /usr/sbin/nologin shuangyong
install -d -o shuangyong -g shuangyong -m 0750 /var/lib/shuangyong /var/lib/shuangyong/projection /var/lib/shuangyong/projection-webhooks
