#!/usr/bin/env bash
# Refreshes the committed advisory snapshot (deploy/advisory-db/) from a
# clone of the RustSec advisory database, on a machine that can reach GitHub
# (CI cannot, so it checks against this snapshot; see README.md here):
#
#   deploy/advisory-db/refresh.sh               # clones github.com/rustsec/advisory-db
#   deploy/advisory-db/refresh.sh <clone>       # or uses a clone you have
#
# Keeps the advisories of every crate named in Cargo.lock and fuzz/Cargo.lock
# (crates/<name>/), lists the names it looked for in CRATES (check.sh fails
# when a lockfile names a crate missing there), and records the upstream
# commit and its date in SOURCE. Run it after adding a dependency, and at
# least every few months (check.sh refuses a snapshot older than deny.toml's
# maximum-db-staleness).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
SNAPSHOT="$ROOT/deploy/advisory-db"
URL=https://github.com/rustsec/advisory-db

if [ "$#" -gt 0 ]; then
  clone="$1"
else
  clone="$(mktemp -d)"
  trap 'rm -rf "$clone"' EXIT
  git clone --quiet --depth 1 "$URL" "$clone"
fi
git -C "$clone" cat-file -e HEAD:crates 2>/dev/null \
  || { echo "error: $clone is not a clone of the advisory database (no crates/ at HEAD)" >&2; exit 1; }
# Files are read from HEAD through git, so a bare mirror works too.
read_tree() { git -C "$clone" archive --format=tar HEAD "$@" | tar -x -C "$SNAPSHOT"; }

rm -rf "$SNAPSHOT/crates"
mkdir -p "$SNAPSHOT/crates"
sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.lock fuzz/Cargo.lock | sort -u > "$SNAPSHOT/CRATES"
kept=0
while read -r name; do
  if git -C "$clone" cat-file -e "HEAD:crates/$name" 2>/dev/null; then
    read_tree "crates/$name"
    kept=$((kept + 1))
  fi
done < "$SNAPSHOT/CRATES"
{
  echo "url=$URL"
  echo "commit=$(git -C "$clone" rev-parse HEAD)"
  echo "date=$(git -C "$clone" show -s --format=%cI HEAD)"
} > "$SNAPSHOT/SOURCE"
echo "advisory snapshot: $kept of $(wc -l < "$SNAPSHOT/CRATES") crates have advisories; $(tr '\n' ' ' < "$SNAPSHOT/SOURCE")"
