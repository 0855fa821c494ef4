# shellcheck shell=bash
# Helpers the scripts share (sourced, not run): messages, root commands and
# apt installs on a fresh Debian machine, and finding nats-server.

log() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when root, else with sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs Debian packages, updating the package lists once per script.
SY_APT_UPDATED=0
apt_install() {
  if [ "$SY_APT_UPDATED" = 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    SY_APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# Sets NATS_BIN to a nats-server binary, installing Debian's when there is none.
find_nats_server() {
  NATS_BIN="$(command -v nats-server || true)"
  if [ -z "$NATS_BIN" ] && [ -x /usr/sbin/nats-server ]; then NATS_BIN=/usr/sbin/nats-server; fi
  if [ -z "$NATS_BIN" ]; then
    log "installing nats-server (apt)"
    apt_install nats-server
    NATS_BIN="$(command -v nats-server || echo /usr/sbin/nats-server)"
  fi
  [ -x "$NATS_BIN" ] || die "nats-server not found after install"
}

# Makes sure python3 can create virtualenvs (Debian splits venv out).
ensure_python_venv() {
  command -v python3 >/dev/null || { log "installing python3 (apt)"; apt_install python3; }
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    log "installing python3-venv (apt)"
    apt_install python3-venv
  fi
}

# Installs cargo tool <crate> at exactly <version> into <dir> (its binary is
# <dir>/bin/<crate>) with `cargo install --locked`, unless it is there already:
# CI caches <dir> (under .cache/, gitignored) between runs.
install_cargo_tool() {
  local crate="$1" version="$2" dir="$3"
  if [ "$("$dir/bin/$crate" --version 2>/dev/null || true)" != "$crate $version" ]; then
    log "installing $crate $version (cargo install --locked, into ${dir#"$PWD/"})"
    rm -rf "$dir"
    env -u CARGO_TARGET_DIR cargo install --quiet --locked --root "$dir" --version "$version" "$crate"
  fi
}

# Sets COMPOSE to the Compose command this host has: `docker compose` (v2)
# or Debian's `docker-compose` (1.29), installing the latter when neither is.
# shellcheck disable=SC2034 # COMPOSE is for the caller.
find_compose() {
  if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
  else
    command -v docker-compose >/dev/null || { log "installing docker-compose (apt)"; apt_install docker-compose; }
    COMPOSE=(docker-compose)
  fi
}

# Prints a TCP port free on 127.0.0.1 (the kernel picks it).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until every container of compose project $1 that has a health check
# reports healthy ($2 seconds at most), as Compose v2's `up --wait` does
# (Debian's docker-compose 1.29 has no --wait). Fails early when a container
# exits; prints the last lines of the unhealthy ones' logs on failure.
wait_healthy() {
  local project=$1 seconds=$2 i ids id state pending
  for ((i = 0; i < seconds; i++)); do
    ids="$(docker ps -aq --filter "label=com.docker.compose.project=$project")"
    pending=0
    for id in $ids; do
      state="$(docker inspect --format '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.Name}}' "$id")"
      case "$state" in
        "running healthy "* | "running none "*) ;;
        "exited "* | "dead "*)
          # One-shot containers (the demo) may have exited on purpose.
          if [ "$(docker inspect --format '{{.State.ExitCode}}' "$id")" != 0 ]; then
            docker logs --tail 30 "$id" >&2 || true
            die "container ${state##* } exited: $state"
          fi ;;
        *) pending=$((pending + 1)) ;;
      esac
    done
    if [ -n "$ids" ] && [ "$pending" = 0 ]; then return 0; fi
    sleep 1
  done
  for id in $ids; do
    state="$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{end}} {{.Name}}' "$id")"
    case "$state" in
      healthy*) ;;
      *) printf -- '--- %s (not healthy)\n' "$state" >&2; docker logs --tail 30 "$id" >&2 || true ;;
    esac
  done
  die "compose project $project not healthy after ${seconds}s"
}
