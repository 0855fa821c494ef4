#!/usr/bin/env bash
# Runs deploy/compose.yaml for real, as an operator does, and checks it
# (CI runs this through deploy/test.sh):
#   1. the offline images (deploy/images/build.sh: no registry needed);
#   2. `sy setup --demo` secrets, then `up`: every service becomes healthy;
#   3. the demo inside the compose network (`run --rm demo`);
#   4. the Python example client and a reflection session (as grpcurl does)
#      against the published ports, over TLS with tokens;
#   5. `down` then `up`: the log (same digest, `sy verify --live`) and the
#      read model (same request count) persist on the volumes;
#   6. `docker stop` (SIGTERM) of intake, then of the projection, under a
#      steady load whose clients retry with their idempotency keys: no
#      acknowledged command is lost or duplicated (`sy soak check`).
# Everything runs under its own compose project with free loopback ports and
# secrets in a temp directory; `down -v` removes it all on exit.
#
#   cargo build --workspace --bins --locked   # the binaries first
#   tests/compose/single-node.sh
#
# Environment (all optional):
#   SY_IMAGE_PROFILE  binaries in the image: debug (default here: CI has built
#                     them already) or release (what operators ship)
#   SY_KEEP=1         leave the stack running at the end (for a look around)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=deploy/lib.sh
. "$ROOT/deploy/lib.sh"
# shellcheck source=tests/compose/lib.sh
. "$ROOT/tests/compose/lib.sh"

export SY_IMAGE_PROFILE="${SY_IMAGE_PROFILE:-debug}"
FILE="$ROOT/deploy/compose.yaml"
PROJECT="sy-single-$$"

compose_setup
trap compose_cleanup EXIT

export SY_NATS_PORT SY_NATS_MONITOR_PORT SY_INTAKE_PORT SY_INTAKE_METRICS_PORT SY_QUERY_PORT SY_QUERY_METRICS_PORT
SY_NATS_PORT="$(free_port)"
SY_NATS_MONITOR_PORT="$(free_port)"
SY_INTAKE_PORT="$(free_port)"
SY_INTAKE_METRICS_PORT="$(free_port)"
SY_QUERY_PORT="$(free_port)"
SY_QUERY_METRICS_PORT="$(free_port)"
INTAKE="127.0.0.1:$SY_INTAKE_PORT"
QUERY="127.0.0.1:$SY_QUERY_PORT"
NATS="tls://127.0.0.1:$SY_NATS_PORT"

step "up ($PROJECT): nats $SY_NATS_PORT, intake $SY_INTAKE_PORT, projection $SY_QUERY_PORT"
timed up compose up -d
timed healthy wait_healthy "$PROJECT" 180
compose ps

step "the demo, inside the compose network (run --rm demo)"
timed demo compose run --rm demo >"$WORK/demo.out"
tail -n 5 "$WORK/demo.out"

step "the Python example client against the published ports"
SY_CLIENT_INTAKE="$INTAKE" SY_CLIENT_QUERY="$QUERY" SY_CLIENT_SECRETS="$SECRETS" \
  bash "$ROOT/tests/clients/python/run.sh"

step "reflection, as grpcurl uses it (grpc.reflection.v1alpha and v1)"
reflect "$INTAKE" shuangyong.v1.Intake
reflect "$QUERY" shuangyong.v1.Query

step "down, then up: the log and the read model persist"
before_digest="$(log_digest "$NATS")"
before_count="$(request_count "$QUERY")"
compose down
timed up-again compose up -d
timed healthy-again wait_healthy "$PROJECT" 180
after_digest="$(log_digest "$NATS")"
after_count="$(request_count "$QUERY")"
echo "log digest $before_digest -> $after_digest; requests $before_count -> $after_count"
[ "$before_digest" = "$after_digest" ] || die "the log changed across down/up"
[ "$before_count" = "$after_count" ] || die "the read model changed across down/up"
[ "$before_count" -gt 0 ] || die "no requests were read after the demo"

for service in intake projection; do
  step "docker stop (SIGTERM) of $service under load"
  soak_around "docker stop $service" "https://$INTAKE" "https://$QUERY" "$NATS" \
    "docker stop -t 20 $(compose ps -q "$service") >/dev/null" \
    "docker start $(compose ps -q "$service") >/dev/null && wait_healthy $PROJECT 120"
done
cat "$WORK/table.md"

step "compose single node: all checks passed"
