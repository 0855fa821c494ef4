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
