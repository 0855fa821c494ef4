#!/usr/bin/env bash
# `cargo deny check advisories` against the committed RustSec snapshot in
# this directory, for both workspaces (the root one and fuzz/), offline (CI
# cannot reach GitHub). deploy/test.sh runs it; it also runs alone.
#
# 1. Every crate of Cargo.lock and fuzz/Cargo.lock must be listed in CRATES,
#    the crates whose advisories the snapshot kept; otherwise a new dependency
#    would be checked against nothing (fix: deploy/advisory-db/refresh.sh).
# 2. The snapshot is staged as cargo-deny's database directory under
#    .cache/advisory-dbs, with the upstream commit date as its fetch time, so
#    deny.toml's maximum-db-staleness measures the snapshot's real age.
# 3. cargo-deny (pinned, `cargo install --locked` into .cache/cargo-deny)
#    checks with --offline: any advisory not fixed nor ignored with a reason
#    in deny.toml fails the run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

# shellcheck source=deploy/lib.sh
. "$ROOT/deploy/lib.sh"

SNAPSHOT="$ROOT/deploy/advisory-db"
CARGO_DENY_VERSION=0.20.2

missing="$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.lock fuzz/Cargo.lock | sort -u | comm -23 - "$SNAPSHOT/CRATES")"
if [ -n "$missing" ]; then
  die "the advisory snapshot does not cover these crates of the lockfiles: $(echo "$missing" | tr '\n' ' ')- run deploy/advisory-db/refresh.sh"
fi

# cargo-deny names a database's directory after its URL (deny.toml's db-urls):
# "<last path segment>-<xxhash64 of the lower-cased URL>".
export SY_ADVISORY_DBS="$ROOT/.cache/advisory-dbs"
db="$SY_ADVISORY_DBS/advisory-db-3157b0e258782691"
upstream_date="$(sed -n 's/^date=//p' "$SNAPSHOT/SOURCE")"
rm -rf "$db"
mkdir -p "$db/.git"
cp -R "$SNAPSHOT/crates" "$db/crates"
# cargo-deny reads when a database was last fetched from the mtime of
# .git/FETCH_HEAD: the snapshot was fetched when upstream made this commit.
sed -n 's/^commit=//p' "$SNAPSHOT/SOURCE" > "$db/.git/FETCH_HEAD"
touch -d "$upstream_date" "$db/.git/FETCH_HEAD"

install_cargo_tool cargo-deny "$CARGO_DENY_VERSION" "$ROOT/.cache/cargo-deny"
deny="$ROOT/.cache/cargo-deny/bin/cargo-deny"

log "advisories as of $upstream_date ($(sed -n 's/^commit=//p' "$SNAPSHOT/SOURCE" | cut -c1-12))"
# deny.toml's ignores are for crates of the root workspace: unused there,
# they fail the check (a stale ignore); in fuzz/ they are expected to be unused.
for manifest in Cargo.toml fuzz/Cargo.toml; do
  cargo fetch --locked --quiet --manifest-path "$manifest"
  unused=()
  [ "$manifest" = Cargo.toml ] || unused=(--allow advisory-not-detected)
  log "cargo deny check advisories (${manifest})"
  "$deny" --offline --locked --manifest-path "$manifest" --config "$ROOT/deny.toml" \
    check --show-stats "${unused[@]}" advisories
done
