# shellcheck shell=bash
# What the compose tests share (sourced after deploy/lib.sh): the offline
# images, a throwaway deployment (secrets in a temp dir, its own compose
# project), `sy` on the host against the published ports, and the soak
# around a fault that makes one row of the fault table.
#
# The sourcing script sets ROOT, FILE (the compose file) and PROJECT.

BIN="${SY_CLIENT_BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/debug}"
SY="$BIN/sy"

step() { printf '\n==> %s\n' "$*"; }

# Runs "$@" and records how long it took under $1 in $WORK/timings.
timed() {
  local name=$1 started
  shift
  started=$(date +%s%N)
  "$@"
  echo "$name $((($(date +%s%N) - started) / 1000000))ms" | tee -a "$WORK/timings"
}

# The compose command for this test's project, with its images and secrets.
compose() {
  "${COMPOSE[@]}" -p "$PROJECT" -f "$FILE" "$@"
}

# Builds the images, makes the deployment's secrets and exports what `sy`
# and compose read. Sets WORK and SECRETS.
compose_setup() {
  [ -x "$SY" ] || die "$SY not found: run cargo build --workspace --bins --locked first"
  find_compose
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/sy-compose.XXXXXX")"
  SECRETS="$WORK/secrets"
  step "offline images (deploy/images/build.sh, $SY_IMAGE_PROFILE binaries)"
  timed images bash "$ROOT/deploy/images/build.sh"
  export SY_IMAGE="${SY_IMAGE:-shuangyong:local}"
  export SY_NATS_IMAGE="${SY_NATS_IMAGE:-shuangyong-nats:${SY_NATS_VERSION:-2.15.1}}"
  step "secrets (sy setup --demo), owned by the containers' uid 10001"
  "$SY" setup --out "$SECRETS" --demo >"$WORK/setup.log"
  as_root chown -R 10001:10001 "$SECRETS"
  export SY_SECRETS_DIR="$SECRETS"
  export SY_CA="$SECRETS/ca.pem" SY_CREDENTIALS_DIR="$SECRETS/clients"
  : >"$WORK/table.md"
}

# On exit: the services' logs when something failed, then `down -v` and the
# temp directory (secrets included), unless SY_KEEP=1.
compose_cleanup() {
  local status=$?
  if [ "$status" -ne 0 ]; then
    compose logs --no-color --tail 40 >&2 || true
  fi
  if [ "${SY_KEEP:-0}" = 1 ]; then
    log "SY_KEEP=1: project $PROJECT left running; secrets in $SECRETS"
  else
    compose --profile demo down -v --remove-orphans >/dev/null 2>&1 || compose down -v >/dev/null 2>&1 || true
    as_root rm -rf "$WORK"
  fi
  exit "$status"
}

# The auditor's connection to the log through the published NATS port $1.
auditor_args() {
  printf '%s\n' --nats-url "$1" --nats-ca "$SECRETS/ca.pem" --nats-user auditor \
    --nats-password-file "$SECRETS/nats/auditor.password"
}

# `digest <hex> at position <n>` of the whole log, checked by `sy verify --live`.
log_digest() {
  local args
  mapfile -t args < <(auditor_args "$1")
  "$SY" verify --live "${args[@]}" | grep -oE 'digest [0-9a-f]+ at position [0-9]+'
}

# How many requests the projection at $1 lists (as the audit office).
request_count() {
  "$SY" --query-url "https://$1" --agency district-audit-office requests list --all \
    | grep -cE '[0-9a-f]{8}-[0-9a-f]{4}-' || true
}

# Lists services through server reflection at $1, as grpcurl does, in both
# protocol versions; fails unless $2 is among them.
reflect() {
  "${SY_CLIENT_VENV:-$ROOT/.cache/python-client/venv}/bin/python" "$ROOT/tests/clients/python/reflect.py" \
    --target "$1" --ca "$SECRETS/ca.pem" --token-file "$SECRETS/clients/district-audit-office/token" \
    --expect "$2"
}

# One row of the fault table: a steady load (`sy soak run`) against intake
# $2 and reads from projection $3 while fault command $5 runs after 5 s and
# heal command $6 right after it; then `sy soak check` reads the log through
# NATS $4 and appends the row (label $1) to $WORK/table.md. Fails when an
# acknowledged command is missing or duplicated.
SOAK_RATE="${SY_SOAK_RATE:-30}"
SOAK_SECONDS="${SY_SOAK_SECONDS:-30}"
soak_around() {
  local label=$1 intake=$2 query=$3 nats=$4 fault=$5 heal=$6 n pid args
  n=$(wc -l <"$WORK/table.md")
  "$SY" soak run --intake-url "$intake" --query-url "$query" --rate "$SOAK_RATE" \
    --duration "${SOAK_SECONDS}s" --marks "$WORK/marks-$n" --out "$WORK/soak-$n.json" \
    >"$WORK/soak-$n.log" 2>&1 &
  pid=$!
  sleep 5
  echo "$(date +%s%3N) fault" >>"$WORK/marks-$n"
  eval "$fault"
  echo "$(date +%s%3N) heal" >>"$WORK/marks-$n"
  eval "$heal"
  wait "$pid" || { tail -n 20 "$WORK/soak-$n.log" >&2; die "sy soak run failed during: $label"; }
  mapfile -t args < <(auditor_args "$nats")
  # A cluster just healed may still answer 503 (JetStream re-forming): the
  # check is tried again then; exit 3 is its verdict (lost or duplicated).
  local attempt status=0
  for attempt in 1 2 3 4 5; do
    if "$SY" soak check "$WORK/soak-$n.json" --label "$label" --marks "$WORK/marks-$n" "${args[@]}" \
      >"$WORK/check-$n.out"; then
      status=0
      break
    else
      status=$?
    fi
    [ "$status" != 3 ] || break
    log "sy soak check failed (exit $status, attempt $attempt); trying again in 5 s"
    sleep 5
  done
  [ "$status" = 0 ] || die "sy soak check failed (exit $status) after: $label"
  tee -a "$WORK/table.md" <"$WORK/check-$n.out"
}
