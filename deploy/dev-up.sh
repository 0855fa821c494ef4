#!/usr/bin/env bash
# Runs shuangyong locally with demo data: a private nats-server (JetStream),
# sy-intake and sy-projection in the background, then `sy demo` (support
# requests) and `sy demo placements` (the placement programmes at the
# article's scale).
#
#   deploy/dev-up.sh          # build (release), start, load the demo set
#   deploy/dev-up.sh --simulated-clock
#                             # the same, but the supervision clocks read the
#                             # time from .data/clock (a development shortcut,
#                             # intake warns), ticking every second, for
#                             # `sy walkthrough supervision` to move forward
#   deploy/dev-down.sh        # stop; add --purge to delete .data/
#
# Everything lives under .data/ in the repository (gitignored): the NATS store,
# the projection's sled, logs, pid files and the deployment's secrets (made
# once by `sy setup`: NATS runs with TLS and users, the services connect as
# theirs, intake reads its identity key from a file, both read the
# key-encryption key, calls need a token). Running it again restarts the
# stack on the same data (the demo is idempotent: nothing is duplicated).
#
# Environment (all optional):
#   SY_DEV_NATS_PORT   NATS client port to try first (default 4223; never
#                      4222, which a system NATS may hold); the next free one is used
#   SY_DEV_INTAKE_ADDR intake listen address (default 127.0.0.1:50051)
#   SY_DEV_QUERY_ADDR  projection listen address (default 127.0.0.1:50052)
#   SY_DEV_INTAKE_METRICS_ADDR  intake's Prometheus metrics (default 127.0.0.1:9601)
#   SY_DEV_QUERY_METRICS_ADDR   projection's Prometheus metrics (default 127.0.0.1:9602)
#   SY_DEV_PROFILE     release (default) or debug
#   SY_DEV_DEMO        1 (default) loads the demo set; 0 skips it
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/.data"
NATS_PORT="${SY_DEV_NATS_PORT:-4223}"
INTAKE_ADDR="${SY_DEV_INTAKE_ADDR:-127.0.0.1:50051}"
QUERY_ADDR="${SY_DEV_QUERY_ADDR:-127.0.0.1:50052}"
INTAKE_METRICS_ADDR="${SY_DEV_INTAKE_METRICS_ADDR:-127.0.0.1:9601}"
QUERY_METRICS_ADDR="${SY_DEV_QUERY_METRICS_ADDR:-127.0.0.1:9602}"
PROFILE="${SY_DEV_PROFILE:-release}"
STREAM=SHUANGYONG

# shellcheck source=deploy/lib.sh
. "$ROOT/deploy/lib.sh"

SIMULATED_CLOCK=0
for arg in "$@"; do
  case "$arg" in
    --simulated-clock) SIMULATED_CLOCK=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown option $arg (deploy/dev-up.sh --help)" ;;
  esac
done

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Waits until file $1 contains $2, while pid $3 lives; $4 seconds at most.
wait_for_log() {
  local file=$1 pattern=$2 pid=$3 seconds=$4 i
  for ((i = 0; i < seconds * 5; i++)); do
    if grep -q -- "$pattern" "$file" 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      printf 'error: process %s exited; last lines of %s:\n' "$pid" "$file" >&2
      tail -n 20 "$file" >&2 || true
      return 1
    fi
    sleep 0.2
  done
  printf 'error: no %q in %s after %ss; last lines:\n' "$pattern" "$file" "$seconds" >&2
  tail -n 20 "$file" >&2 || true
  return 1
}

# Starts "$@" in its own session (Ctrl-C in this terminal does not reach it),
# output to $LOG_FILE, pid to $PID_FILE; sets STARTED_PID.
start_bg() {
  setsid "$@" >"$LOG_FILE" 2>&1 </dev/null &
  STARTED_PID=$!
  echo "$STARTED_PID" >"$PID_FILE"
}

command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs) first"

# A running stack is restarted on the same data.
if compgen -G "$DATA/*.pid" >/dev/null; then
  log "stopping the running dev stack first"
  "$ROOT/deploy/dev-down.sh"
fi

mkdir -p "$DATA/nats" "$DATA/projection"

# --- build --------------------------------------------------------------------
if [ "$PROFILE" = release ]; then
  log "building the workspace (cargo build --release --locked --bins)"
  (cd "$ROOT" && cargo build --release --locked --bins)
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"
else
  log "building the workspace (cargo build --locked --bins)"
  (cd "$ROOT" && cargo build --locked --bins)
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
fi

# --- secrets --------------------------------------------------------------------
# Made once by `sy setup` and kept: the identity key must never change while
# the log holds person ids derived with it. Delete .data/ (dev-down --purge)
# to start over.
SECRETS="$DATA/secrets"
if [ ! -d "$SECRETS" ]; then
  log "creating the deployment's secrets (sy setup --out .data/secrets)"
  "$BIN/sy" setup --out "$SECRETS" --demo >/dev/null
fi
# Secrets made before personal data was sealed have no key-encryption key.
if [ ! -f "$SECRETS/kek.key" ]; then
  log "creating the key-encryption key (sy keys new-kek --out .data/secrets/kek.key)"
  "$BIN/sy" keys new-kek --out "$SECRETS/kek.key" >/dev/null
fi

# Secrets made before the supervision clocks gave intake's NATS user no
# consumer permissions: its clocks could not follow the log (README, NATS
# users and TLS). Say so rather than run without clocks unnoticed.
if ! awk '/user: "intake"/ { f = 1 } f && /publish:/ { print; exit }' "$SECRETS/nats/users.conf" |
  grep -q 'CONSUMER.CREATE'; then
  log "warning: $SECRETS predates the supervision clocks: intake's NATS user may not follow the log, so no clock will fire; start over with deploy/dev-down.sh --purge (deletes .data/)"
fi

find_nats_server

for addr in "$INTAKE_ADDR" "$QUERY_ADDR" "$INTAKE_METRICS_ADDR" "$QUERY_METRICS_ADDR"; do
  if port_in_use "${addr##*:}"; then
    die "port ${addr##*:} is taken; set SY_DEV_INTAKE_ADDR / SY_DEV_QUERY_ADDR / SY_DEV_INTAKE_METRICS_ADDR / SY_DEV_QUERY_METRICS_ADDR to free addresses"
  fi
done

while [ "$NATS_PORT" -eq 4222 ] || port_in_use "$NATS_PORT"; do
  NATS_PORT=$((NATS_PORT + 1))
  [ "$NATS_PORT" -lt 4300 ] || die "no free port for NATS in 4223..4299"
done

# Our own config: the system NATS (if any) stays untouched.
write_nats_conf() {
  cat >"$DATA/nats.conf" <<EOF
# Written by deploy/dev-up.sh for $("$NATS_BIN" --version 2>&1 | head -n 1).
listen: 127.0.0.1:$NATS_PORT
server_name: sy-dev
jetstream {
  store_dir: "$DATA/nats"
$1
}
# TLS and users with permissions, as deploy/nats.conf (no anonymous user).
tls {
  cert_file: "$SECRETS/nats/server.pem"
  key_file: "$SECRETS/nats/server.key"
  timeout: 2
}
include "secrets/nats/users.conf"
EOF
}
# The shipped deploy/nats.conf sets sync_interval: always (fsync before every
# ack). Debian's nats-server 2.9 does not know that option, so the dev config
# only sets it when this server accepts it. Without it JetStream fsyncs
# periodically: an acknowledged event can be lost if the machine loses power
# (Jepsen, NATS 2.12.1, 2025). Acceptable for a dev machine, not for production.
write_nats_conf "  sync_interval: always"
if "$NATS_BIN" -t -c "$DATA/nats.conf" >/dev/null 2>&1; then
  NATS_DURABILITY="fsync before every ack: sync_interval always"
else
  write_nats_conf "  # sync_interval: always  -- unknown to this nats-server; see deploy/dev-up.sh"
  NATS_DURABILITY="periodic fsync only: this nats-server lacks sync_interval, see README"
fi

log "starting nats-server on 127.0.0.1:$NATS_PORT; $NATS_DURABILITY"
LOG_FILE="$DATA/nats.log" PID_FILE="$DATA/nats.pid" start_bg "$NATS_BIN" -c "$DATA/nats.conf"
wait_for_log "$DATA/nats.log" "Server is ready" "$STARTED_PID" 20

# --- services -----------------------------------------------------------------
export SY_NATS_URL="nats://127.0.0.1:$NATS_PORT" SY_STREAM="$STREAM" SY_LOG_FORMAT=text NO_COLOR=1
export SY_NATS_CA="$SECRETS/ca.pem" SY_TOKENS_FILE="$SECRETS/tokens"
# Both gRPC servers: TLS with their certificates, client certificates of the
# deployment's CA, roles from the policy (`sy setup --demo` wrote the demo's).
export SY_TLS_CLIENT_CA="$SECRETS/ca.pem" SY_POLICY_FILE="$SECRETS/policy.toml"

# Events are signed with the key `sy setup` made (intake-1); the projection
# and `sy verify`/`sy history` check them against the published verify keys.
export SY_VERIFY_KEYS_FILE="$SECRETS/verify.keys"

# Both services unwrap each person's data key (in the key store beside the
# log) with the key-encryption key `sy setup` made; rotate it with `sy keys
# rotate-kek` and `sy keys rewrap` (README, "Personal data").
export SY_KEK_FILE="$SECRETS/kek.key"

# The supervision clocks run on the system's time, or with --simulated-clock
# on the instant in .data/clock (kept across restarts; it starts at now).
CLOCK_ENV=()
if [ "$SIMULATED_CLOCK" = 1 ]; then
  CLOCK_FILE="$DATA/clock"
  [ -f "$CLOCK_FILE" ] || date -u +%Y-%m-%dT%H:%M:%SZ >"$CLOCK_FILE"
  CLOCK_ENV=(SY_SIMULATED_CLOCK_FILE="$CLOCK_FILE" SY_SUPERVISION_TICK_MS=1000)
  log "supervision clocks on the simulated clock $CLOCK_FILE ($(cat "$CLOCK_FILE")), ticking every second"
fi

log "starting sy-intake on $INTAKE_ADDR"
LOG_FILE="$DATA/intake.log" PID_FILE="$DATA/intake.pid" \
  start_bg env "${CLOCK_ENV[@]}" SY_LISTEN="$INTAKE_ADDR" SY_METRICS_LISTEN="$INTAKE_METRICS_ADDR" \
    SY_NATS_USER=intake SY_NATS_PASSWORD_FILE="$SECRETS/nats/intake.password" \
    SY_TLS_CERT="$SECRETS/intake/server.pem" SY_TLS_KEY="$SECRETS/intake/server.key" \
    SY_IDENTITY_KEY_FILE="$SECRETS/intake/identity.key" \
    SY_SIGNING_KEY_FILE="$SECRETS/intake/intake-1.key" \
    SY_SUPERVISION_POLICY="$ROOT/deploy/supervision-policy.toml" \
    SY_DISTRICTS=500106 "$BIN/sy-intake"
INTAKE_PID=$STARTED_PID

log "starting sy-projection on $QUERY_ADDR"
LOG_FILE="$DATA/projection.log" PID_FILE="$DATA/projection.pid" \
  start_bg env SY_LISTEN="$QUERY_ADDR" SY_METRICS_LISTEN="$QUERY_METRICS_ADDR" \
    SY_NATS_USER=projection SY_NATS_PASSWORD_FILE="$SECRETS/nats/projection.password" \
    SY_TLS_CERT="$SECRETS/projection/server.pem" SY_TLS_KEY="$SECRETS/projection/server.key" \
    SY_DISTRICTS=500106 SY_DATA_DIR="$DATA/projection" "$BIN/sy-projection"
QUERY_PID=$STARTED_PID

wait_for_log "$DATA/intake.log" "listening" "$INTAKE_PID" 60
wait_for_log "$DATA/projection.log" "listening" "$QUERY_PID" 60

export SY_INTAKE_URL="https://$INTAKE_ADDR" SY_QUERY_URL="https://$QUERY_ADDR"
# `sy` trusts the deployment's CA, and each party the demo acts for calls
# with its own token (sy setup --demo issued them); reads go as --agency's.
export SY_CA="$SECRETS/ca.pem" SY_CREDENTIALS_DIR="$SECRETS/clients"
if [ "${SY_DEV_DEMO:-1}" = 1 ]; then
  log "loading the demo set (sy demo)"
  "$BIN/sy" demo
  log "loading the placement scenario at the article's scale (sy demo placements)"
  "$BIN/sy" demo placements
fi

cat <<EOF

shuangyong is running (data and logs in $DATA):
  nats        nats://127.0.0.1:$NATS_PORT (TLS, users)   stream $STREAM   log .data/nats.log
  secrets     $SECRETS (sy setup --demo: CA, certificates, NATS passwords, tokens, policy, identity, signing and key-encryption keys)
  intake      https://$INTAKE_ADDR   (shuangyong.v1.Intake, Placements)   log .data/intake.log
  projection  https://$QUERY_ADDR   (shuangyong.v1.Query, PlacementQuery, Admin)   log .data/projection.log
  metrics     http://$INTAKE_METRICS_ADDR/metrics (intake)   http://$QUERY_METRICS_ADDR/metrics (projection)

try:
  export SY_INTAKE_URL=https://$INTAKE_ADDR SY_QUERY_URL=https://$QUERY_ADDR
  export SY_CA=$SECRETS/ca.pem SY_CREDENTIALS_DIR=$SECRETS/clients
  export SY_VERIFY_KEYS_FILE=$SECRETS/verify.keys
  $BIN/sy walkthrough
$(if [ "$SIMULATED_CLOCK" = 1 ]; then
  printf '  SY_SIMULATED_CLOCK_FILE=%s SY_SUPERVISION_POLICY=%s \\\n    %s walkthrough supervision\n' \
    "$CLOCK_FILE" "$ROOT/deploy/supervision-policy.toml" "$BIN/sy"
fi)
  $BIN/sy board
  $BIN/sy requests list --status in-progress
  $BIN/sy status --agency district-audit-office
  $BIN/sy verify --live --nats-url nats://127.0.0.1:$NATS_PORT --nats-ca $SECRETS/ca.pem \\
    --nats-user auditor --nats-password-file $SECRETS/nats/auditor.password
stop:
  deploy/dev-down.sh            (deploy/dev-down.sh --purge also deletes .data/)
EOF
