#!/usr/bin/env bash
# Stops what deploy/dev-up.sh started (by the pids it recorded in .data/):
# sy-projection, sy-intake, then nats-server, each with SIGTERM (graceful),
# SIGKILL after 15 seconds.
#
#   deploy/dev-down.sh           # stop; data stays in .data/
#   deploy/dev-down.sh --purge   # stop and delete .data/ (event log included)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/.data"

purge=0
case "${1:-}" in
  "") ;;
  --purge) purge=1 ;;
  *) printf 'usage: %s [--purge]\n' "$0" >&2; exit 2 ;;
esac

# Stops the process recorded in $DATA/$1.pid if it still runs program $2.
stop() {
  local name=$1 program=$2 pid_file="$DATA/$1.pid" pid comm i
  [ -f "$pid_file" ] || return 0
  pid="$(cat "$pid_file")"
  comm="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
  # A recycled pid belongs to someone else: leave it alone.
  if [ -n "$pid" ] && [ "${program:0:15}" = "$comm" ]; then
    printf '==> stopping %s (pid %s)\n' "$name" "$pid"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 75; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      printf '==> %s did not stop in 15s; killing it\n' "$name"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pid_file"
}

stop projection sy-projection
stop intake sy-intake
stop nats nats-server

if [ "$purge" = 1 ]; then
  printf '==> deleting %s\n' "$DATA"
  rm -rf "$DATA"
fi
printf '==> dev stack stopped\n'
