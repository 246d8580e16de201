#!/usr/bin/env bash
# Coverage-guided fuzzing, short run: builds every fuzz target in fuzz/ (cargo-fuzz, the nightly
# toolchain, libFuzzer) and runs each for FUZZ_SECONDS (default 6) from its committed seeds.
# A crash fails the step; libFuzzer prints the input and cargo-fuzz keeps it under
# fuzz/artifacts/<target>/. fuzz/README.md says how to run a longer session and how to keep a
# crash as a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${FUZZ_SECONDS:-6}"
# The safe-Rust core needs no AddressSanitizer: without it the targets build and run faster.
# Overflow checks and debug assertions stay on (-a), as they turn silent bugs into crashes.
flags=(--release --debug-assertions --sanitizer "${FUZZ_SANITIZER:-none}")

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "installing the nightly toolchain"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

start=$(date +%s)
cd fuzz
cargo +nightly fuzz build "${flags[@]}"
echo "fuzz targets built in $(($(date +%s) - start)) s"

# New inputs go to a scratch corpus; the committed seeds are only read.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in $(cargo +nightly fuzz list); do
  mkdir -p "$scratch/$target"
  echo "fuzzing $target for ${secs} s"
  status=0
  cargo +nightly fuzz run "${flags[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$scratch/$target.log" 2>&1 || status=$?
  grep -E '^stat::(number_of_executed_runs|new_units_added)' "$scratch/$target.log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$scratch/$target.log" >&2
    echo "fuzz target $target failed: the input is under fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
echo "fuzzing done in $(($(date +%s) - start)) s"
