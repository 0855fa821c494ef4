#!/usr/bin/env bash
# Runs deploy/compose.cluster.yaml for real (three NATS nodes, two intake and
# two projection replicas, each container its own address on the compose
# network) and injects faults across containers under a steady load of
# commands whose clients retry with their idempotency keys (`sy soak run`,
# from the host through the published loopback ports), while reads go to the
# second projection replica. For each fault, one row of the fault table
# (`sy soak check`, which reads the log back as the auditor):
#
#   | fault | acknowledged | found in log | duplicates | failed after retries |
#   | longest unavailability | recovery | longest read gap |
#
# First the cluster runs the previous release's image
# (deploy/images/previous-release) and is upgraded to this one, one replica
# at a time, under the load. Then the faults: kill the stream leader's node; `docker pause` a node for 20 s;
# partition a node from the other two (`docker network disconnect`); rolling
# restarts of every intake and projection replica, one at a time; kill every
# container at once, then start them again (`sync_interval: always`: nothing
# acknowledged may be lost). Fails when an acknowledged command is missing
# from the log or written twice.
#
#   cargo build --workspace --bins --locked   # the binaries first
#   tests/compose/cluster-faults.sh
#
# Environment (all optional): SY_IMAGE_PROFILE (debug by default here),
# SY_SOAK_RATE (commands/s, default 30), SY_SOAK_SECONDS (per fault, default
# 30), SY_KEEP=1 (leave the cluster running).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=deploy/lib.sh
. "$ROOT/deploy/lib.sh"
# shellcheck source=tests/compose/lib.sh
. "$ROOT/tests/compose/lib.sh"

export SY_IMAGE_PROFILE="${SY_IMAGE_PROFILE:-debug}"
FILE="$ROOT/deploy/compose.cluster.yaml"
PROJECT="sy-cluster-$$"
HOLD="${SY_FAULT_HOLD:-20}"

compose_setup
trap compose_cleanup EXIT

PREVIOUS_REV="$(grep -v '^#' "$ROOT/deploy/images/previous-release")"
NEW_IMAGE="$SY_IMAGE"
step "the previous release's image (${PREVIOUS_REV:0:12})"
timed previous-image env SY_IMAGE_REV="$PREVIOUS_REV" SY_IMAGE=shuangyong:previous \
  bash "$ROOT/deploy/images/build.sh"
export SY_IMAGE=shuangyong:previous

ports=(SY_NATS_1_PORT SY_NATS_2_PORT SY_NATS_3_PORT SY_NATS_1_MONITOR_PORT SY_NATS_2_MONITOR_PORT
  SY_NATS_3_MONITOR_PORT SY_INTAKE_1_PORT SY_INTAKE_2_PORT SY_QUERY_1_PORT SY_QUERY_2_PORT
  SY_INTAKE_1_METRICS_PORT SY_INTAKE_2_METRICS_PORT SY_QUERY_1_METRICS_PORT SY_QUERY_2_METRICS_PORT)
for port in "${ports[@]}"; do
  printf -v "$port" '%s' "$(free_port)"
  export "${port?}"
done
INTAKES="https://127.0.0.1:$SY_INTAKE_1_PORT,https://127.0.0.1:$SY_INTAKE_2_PORT"
# Reads from the second projection replica; the first is its fallback only
# while the rolling restart takes the second down.
READS="https://127.0.0.1:$SY_QUERY_2_PORT"
NATS="tls://127.0.0.1:$SY_NATS_1_PORT,tls://127.0.0.1:$SY_NATS_2_PORT,tls://127.0.0.1:$SY_NATS_3_PORT"

# The container id of compose service $1.
container() { compose ps -q "$1"; }

# The compose service (nats-N) whose node leads the event stream now.
stream_leader() {
  local port name
  for port in "$SY_NATS_1_MONITOR_PORT" "$SY_NATS_2_MONITOR_PORT" "$SY_NATS_3_MONITOR_PORT"; do
    name="$(python3 - "$port" <<'PY' 2>/dev/null || true
import json, sys, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/jsz?accounts=true&streams=true"
with urllib.request.urlopen(url, timeout=3) as reply:
    jsz = json.load(reply)
for account in jsz.get("account_details") or []:
    for stream in account.get("stream_detail") or []:
        if stream.get("name") == "SHUANGYONG" and stream.get("cluster", {}).get("leader"):
            print(stream["cluster"]["leader"])
            sys.exit(0)
PY
)"
    if [ -n "$name" ]; then echo "nats-${name##*-}"; return; fi
  done
  die "no node reports a leader of the stream"
}

# Restarts one replica (SIGTERM, 20 s grace) and waits for it to be healthy.
restart_one() {
  docker restart -t 20 "$(container "$1")" >/dev/null
  wait_healthy "$PROJECT" 120
}

# Recreates replica $1 on image $NEW_IMAGE (SIGTERM to the old container
# first) and waits for the whole project to be healthy.
upgrade_one() {
  SY_IMAGE="$NEW_IMAGE" compose up -d --no-deps -t 20 "$1" >/dev/null 2>&1
  wait_healthy "$PROJECT" 120
}

step "up ($PROJECT): 3 NATS nodes, 2 intake, 2 projection replicas, previous release"
timed up compose up -d
timed healthy wait_healthy "$PROJECT" 240
compose ps
step "the demo through intake-1, inside the compose network"
timed demo compose run --rm demo >"$WORK/demo.out"
tail -n 3 "$WORK/demo.out"

NETWORK="$(docker inspect --format '{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{end}}' "$(container nats-1)")"

step "rolling upgrade to this release, one replica at a time"
soak_around "rolling upgrade previous → this release" "$INTAKES" \
  "$READS,https://127.0.0.1:$SY_QUERY_1_PORT" "$NATS" \
  "upgrade_one intake-1; upgrade_one intake-2; upgrade_one projection-1; upgrade_one projection-2" \
  ":"
export SY_IMAGE="$NEW_IMAGE"
for id in $(docker ps -q --filter "label=com.docker.compose.project=$PROJECT"); do
  image="$(docker inspect --format '{{.Config.Image}}' "$id")"
  case "$image" in shuangyong:previous) die "$(docker inspect --format '{{.Name}}' "$id") still runs $image" ;; esac
done

LEADER="$(stream_leader)"
step "fault: kill the stream leader's node ($LEADER)"
soak_around "kill the stream leader ($LEADER)" "$INTAKES" "$READS" "$NATS" \
  "docker kill $(container "$LEADER") >/dev/null" \
  "sleep $HOLD; docker start $(container "$LEADER") >/dev/null; wait_healthy $PROJECT 120"

VICTIM="$(stream_leader)"
step "fault: docker pause $VICTIM (the leader now) for ${HOLD}s"
soak_around "pause the stream leader ($VICTIM) ${HOLD} s" "$INTAKES" "$READS" "$NATS" \
  "docker pause $(container "$VICTIM") >/dev/null" \
  "sleep $HOLD; docker unpause $(container "$VICTIM") >/dev/null; wait_healthy $PROJECT 120"

VICTIM="$(stream_leader)"
step "fault: partition $VICTIM (the leader now) from the other two for ${HOLD}s"
soak_around "partition the stream leader ($VICTIM) ${HOLD} s" "$INTAKES" "$READS" "$NATS" \
  "docker network disconnect $NETWORK $(container "$VICTIM")" \
  "sleep $HOLD; docker network connect --alias $VICTIM $NETWORK $(container "$VICTIM"); wait_healthy $PROJECT 120"

step "fault: rolling restarts of intake-1, intake-2, projection-1, projection-2"
soak_around "rolling restarts, one replica at a time" "$INTAKES" \
  "$READS,https://127.0.0.1:$SY_QUERY_1_PORT" "$NATS" \
  "restart_one intake-1; restart_one intake-2; restart_one projection-1; restart_one projection-2" \
  ":"

step "fault: kill every container at once, then start them again"
SOAK_SECONDS=$((SOAK_SECONDS + 30)) soak_around "kill every container, start again" "$INTAKES" "$READS" "$NATS" \
  "docker kill \$(docker ps -q --filter label=com.docker.compose.project=$PROJECT) >/dev/null" \
  "compose up -d >/dev/null 2>&1; wait_healthy $PROJECT 180"

step "the fault table"
{
  echo "| fault | acknowledged | found in log | duplicates | failed after retries | longest unavailability (s) | recovery (s) | longest read gap (s) |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
  cat "$WORK/table.md"
} | tee "${SY_FAULT_TABLE:-$ROOT/.cache/fault-table.md}"
cat "$WORK/timings"
step "compose cluster faults: all checks passed"
