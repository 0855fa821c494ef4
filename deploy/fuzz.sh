#!/usr/bin/env bash
# Coverage-guided fuzzing of the domain (issue 9): builds the cargo fuzz
# targets of fuzz/ (libFuzzer) and runs each for a bounded time, failing on
# the first crash, panic, hang or leak. Runs on the stable toolchain:
# `--sanitizer none` needs no nightly (coverage comes from the SanitizerCoverage
# pass, a stable codegen option), so memory errors are not caught, only panics,
# which is what safe Rust can produce. Debug assertions and overflow checks on.
#
#   deploy/fuzz.sh                  # every target, SY_FUZZ_SECONDS each (60)
#   deploy/fuzz.sh event_fold       # one target
#
# Targets (fuzz/fuzz_targets/): command_parse (bytes as each intake command
# message, parsed and decided) and event_fold (bytes as a sequence of event
# envelopes, upcast and folded into every aggregate kind). Each run starts
# from the committed seed corpus fuzz/corpus/<target>/ (read only; its
# generator and check: `cargo test --manifest-path fuzz/Cargo.toml`) plus
# what earlier runs found in .cache/fuzz/corpus/<target>/. A crash is saved
# under .cache/fuzz/artifacts/<target>/; reproduce it with
#   cargo fuzz run --sanitizer none <target> <that file>
# then fix the domain with a regression unit test.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=deploy/lib.sh
. "$ROOT/deploy/lib.sh"

SECONDS_EACH="${SY_FUZZ_SECONDS:-60}"
case "$SECONDS_EACH" in
  ''|*[!0-9]*|0) die "SY_FUZZ_SECONDS must be a positive number of seconds, not '$SECONDS_EACH'" ;;
esac

CARGO_FUZZ_VERSION=0.13.2
install_cargo_tool cargo-fuzz "$CARGO_FUZZ_VERSION" "$ROOT/.cache/cargo-fuzz"
PATH="$ROOT/.cache/cargo-fuzz/bin:$PATH"

# libFuzzer itself is C++, built by libfuzzer-sys.
if ! command -v c++ >/dev/null; then
  log "installing g++ (apt, for libFuzzer)"
  apt_install g++
fi

# The fuzz crate is its own workspace: the root's fmt/clippy/test skip it.
log "fuzz/: cargo fmt --check, clippy, corpus test"
cargo fmt --manifest-path fuzz/Cargo.toml --check
cargo clippy --manifest-path fuzz/Cargo.toml --all-targets --locked -- -D warnings
cargo test --manifest-path fuzz/Cargo.toml --locked --quiet

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

log "cargo fuzz build --sanitizer none (${targets[*]})"
for target in "${targets[@]}"; do
  cargo fuzz build --sanitizer none "$target"
done

for target in "${targets[@]}"; do
  seeds="fuzz/corpus/$target"
  [ -d "$seeds" ] || die "no seed corpus $seeds"
  found="$ROOT/.cache/fuzz/corpus/$target"
  artifacts="$ROOT/.cache/fuzz/artifacts/$target"
  mkdir -p "$found" "$artifacts"
  log "fuzzing $target for ${SECONDS_EACH}s (seeds: $seeds)"
  if ! cargo fuzz run --sanitizer none "$target" "$found" "$seeds" -- \
    -max_total_time="$SECONDS_EACH" -timeout=10 -print_final_stats=1 -print_funcs=0 \
    -artifact_prefix="$artifacts/" 2> >(grep -vE '^(#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)|")' >&2); then
    die "fuzz target $target failed; the input is in ${artifacts#"$ROOT/"}/ (reproduce: cargo fuzz run --sanitizer none $target <file>)"
  fi
done

log "fuzzing passed (${targets[*]}, ${SECONDS_EACH}s each)"
