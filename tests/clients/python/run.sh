#!/usr/bin/env bash
# Runs the Python example client (client.py) against a private stack secured
# as a deployment is, as CI does (deploy/test.sh): a virtualenv with
# requirements.txt, stubs generated from proto/, fresh secrets from
# `sy setup --demo`, then its own nats-server (TLS, the users of
# nats/users.conf, JetStream in a temp store, a free port), sy-intake and
# sy-projection (gRPC over TLS, bearer tokens, the demo's role policy, signed
# events) on free ports; client.py must pass every check. No development
# mode (SY_DEV) anywhere. Everything it started is stopped on exit, and its
# temp directory (the secrets with it) deleted.
#
#   cargo build --workspace --bins --locked   # the binaries first
#   tests/clients/python/run.sh
#
# Environment (all optional):
#   SY_CLIENT_BIN_DIR  where sy, sy-intake and sy-projection are (default
#                      $CARGO_TARGET_DIR/debug, else target/debug)
#   SY_CLIENT_INTAKE, SY_CLIENT_QUERY, SY_CLIENT_SECRETS
#                      run against that deployment (host:port of intake and
#                      projection, its secrets directory) instead of a private stack
#   SY_CLIENT_VENV     the virtualenv (default .cache/python-client/venv, gitignored;
#                      reused while requirements.txt is unchanged)
# Installs with apt when missing: python3-venv, nats-server.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
BIN="${SY_CLIENT_BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/debug}"
VENV="${SY_CLIENT_VENV:-$ROOT/.cache/python-client/venv}"
STREAM=SHUANGYONG_PY

# shellcheck source=deploy/lib.sh
. "$ROOT/deploy/lib.sh"

if [ -z "${SY_CLIENT_INTAKE:-}" ]; then
  for program in sy sy-intake sy-projection; do
    [ -x "$BIN/$program" ] || die "$BIN/$program not found: run cargo build --workspace --bins --locked first"
  done
  find_nats_server
fi

# --- tools --------------------------------------------------------------------
ensure_python_venv

# --- virtualenv and stubs -----------------------------------------------------
stamp="$VENV/.requirements.sha256"
want="$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  log "creating the virtualenv $VENV (requirements.txt)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$HERE/requirements.txt"
  echo "$want" >"$stamp"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sy-python-client.XXXXXX")"
PIDS=()
NAMES=()

# Stops what this script started (newest first: projection, intake, NATS),
# SIGTERM then SIGKILL after 10 s; prints the logs when the run failed.
cleanup() {
  local status=$? i pid n
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[i]}
    kill -TERM "$pid" 2>/dev/null || continue
    for ((n = 0; n < 50; n++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    for i in "${!NAMES[@]}"; do
      printf -- '--- last lines of %s.log\n' "${NAMES[i]}" >&2
      tail -n 20 "$WORK/${NAMES[i]}.log" >&2 || true
    done
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "generating stubs"
PYTHON="$VENV/bin/python" "$HERE/generate.sh" "$WORK/gen"

# Starts "$@" in the background with output to $WORK/$name.log.
start() {
  local name=$1
  shift
  "$@" >"$WORK/$name.log" 2>&1 </dev/null &
  PIDS+=("$!")
  NAMES+=("$name")
}

# Prints the first match of sed expression $2 in $WORK/$1.log, waiting while
# the last started process lives; 60 seconds at most.
wait_for() {
  local name=$1 expr=$2 pid=${PIDS[${#PIDS[@]} - 1]} i found
  for ((i = 0; i < 300; i++)); do
    found="$(sed -n "$expr" "$WORK/$name.log" | head -n 1)"
    if [ -n "$found" ]; then
      printf '%s\n' "$found"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || die "$name exited before it was ready"
    sleep 0.2
  done
  die "$name not ready after 60s"
}

# Starts the private stack (its own secrets, nats-server, sy-intake and
# sy-projection); sets SECRETS, INTAKE_ADDR and QUERY_ADDR.
start_private_stack() {
  # --- secrets ------------------------------------------------------------------
  # A deployment's secrets, every file owner-only: the CA, the servers'
  # certificates, the NATS users (nats/users.conf, nats/<user>.password),
  # intake's identity and signing keys, the verify keys, the tokens (hashes) and
  # the demo's role policy, and each demo agency's clients/<agency>/token.
  SECRETS="$WORK/secrets"
  log "sy setup --demo"
  "$BIN/sy" setup --out "$SECRETS" --demo --stream "$STREAM" >"$WORK/setup.log"

  # --- the stack ----------------------------------------------------------------
  mkdir -p "$WORK/nats" "$WORK/projection"
  # The config sits in nats/ so that `include "users.conf"` resolves next to it.
  # As deploy/nats.conf: TLS, only the users of users.conf with their
  # permissions, no anonymous user. Port -1: a free port, which the server logs.
  # No sync_interval (Debian's nats-server 2.9 lacks it): a throwaway store.
  NATS_CONF="$SECRETS/nats/nats.conf"
  cat >"$NATS_CONF" <<CONF
  # Written by tests/clients/python/run.sh.
  listen: 127.0.0.1:-1
  server_name: sy-python-client
  jetstream {
    store_dir: "$WORK/nats"
  }
  tls {
    cert_file: "$SECRETS/nats/server.pem"
    key_file: "$SECRETS/nats/server.key"
    timeout: 2
  }
  include "users.conf"
CONF
  chmod 600 "$NATS_CONF"
  start nats "$NATS_BIN" -c "$NATS_CONF"
  NATS_ADDR="$(wait_for nats 's/.*Listening for client connections on \([0-9.]*:[0-9]*\).*/\1/p')"
  log "nats-server on $NATS_ADDR, TLS and users ($("$NATS_BIN" --version 2>&1 | head -n 1))"

  export SY_LOG_FORMAT=text NO_COLOR=1
  # Both services as deployed: NATS over TLS (the CA's) as their own NATS user,
  # gRPC over TLS with their certificates, callers by bearer token or client
  # certificate of the CA, roles from the demo's policy. Intake signs every
  # event and seals personal data under keys wrapped by the KEK; the
  # projection checks the signatures against the verify keys.
  # --listen port 0: a free port, logged as `listening addr=...`.
  start intake "$BIN/sy-intake" --nats-url "nats://$NATS_ADDR" --stream "$STREAM" \
    --nats-user intake --nats-password-file "$SECRETS/nats/intake.password" --nats-ca "$SECRETS/ca.pem" \
    --identity-key-file "$SECRETS/intake/identity.key" --signing-key-file "$SECRETS/intake/intake-1.key" \
    --kek-file "$SECRETS/kek.key" \
    --tokens-file "$SECRETS/tokens" --policy-file "$SECRETS/policy.toml" \
    --tls-cert "$SECRETS/intake/server.pem" --tls-key "$SECRETS/intake/server.key" \
    --tls-client-ca "$SECRETS/ca.pem" --listen 127.0.0.1:0
  INTAKE_ADDR="$(wait_for intake 's/.*listening addr=\([0-9.]*:[0-9]*\).*/\1/p')"
  log "sy-intake on $INTAKE_ADDR (TLS)"

  start projection "$BIN/sy-projection" --nats-url "nats://$NATS_ADDR" --stream "$STREAM" \
    --nats-user projection --nats-password-file "$SECRETS/nats/projection.password" --nats-ca "$SECRETS/ca.pem" \
    --verify-keys-file "$SECRETS/verify.keys" --kek-file "$SECRETS/kek.key" \
    --tokens-file "$SECRETS/tokens" --policy-file "$SECRETS/policy.toml" \
    --tls-cert "$SECRETS/projection/server.pem" --tls-key "$SECRETS/projection/server.key" \
    --tls-client-ca "$SECRETS/ca.pem" --listen 127.0.0.1:0 --data-dir "$WORK/projection"
  QUERY_ADDR="$(wait_for projection 's/.*listening addr=\([0-9.]*:[0-9]*\).*/\1/p')"
  log "sy-projection on $QUERY_ADDR (TLS)"
}

if [ -n "${SY_CLIENT_INTAKE:-}" ]; then
  # A running deployment (tests/compose/single-node.sh: the compose stack's
  # published ports) with its secrets.
  INTAKE_ADDR="$SY_CLIENT_INTAKE" QUERY_ADDR="${SY_CLIENT_QUERY:?SY_CLIENT_QUERY too}"
  SECRETS="${SY_CLIENT_SECRETS:?SY_CLIENT_SECRETS too}"
  log "against the running deployment: intake $INTAKE_ADDR, projection $QUERY_ADDR"
else
  start_private_stack
fi

# --- the client -----------------------------------------------------------------
log "client.py"
# Trusts the deployment's CA; acts as the unit that submits (its token), and
# reads what needs the reader role with the audit office's token.
"$VENV/bin/python" "$HERE/client.py" --intake "$INTAKE_ADDR" --query "$QUERY_ADDR" --stubs "$WORK/gen" \
  --ca "$SECRETS/ca.pem" --token-file "$SECRETS/clients/unit-31001/token" \
  --reader-token-file "$SECRETS/clients/district-audit-office/token" \
  | tee "$WORK/client.out"
grep -q 'replayed=True' "$WORK/client.out" || die "client.py did not show a replayed retry"
grep -q ' 0 failed$' "$WORK/client.out" || die "client.py reported failed checks"
log "python example client passed"
