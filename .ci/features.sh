#!/usr/bin/env bash
# The feature matrix: every feature of every library crate builds alone (on top of
# --no-default-features), and so does no feature at all and the defaults. An equivalent of
# `cargo hack check --each-feature --no-dev-deps`, without installing cargo-hack. Warnings count
# as failures. With the default features, each crate's docs are rendered too (no dead links).
# Checks share one target directory, so core is checked once per feature set and the adapters'
# runs reuse it.
set -euo pipefail
cd "$(dirname "$0")/.."

crates=(twofactor-core twofactor-tower twofactor-actix)
failed=()
for crate in "${crates[@]}"; do
  features=$(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
crate = sys.argv[1]
pkg = next(p for p in json.load(sys.stdin)["packages"] if p["name"] == crate)
print(" ".join(sorted(f for f in pkg["features"] if f != "default")))
' "$crate")
  for set in "" "default" $features; do
    # An adapter feature that only passes a core feature through, which the adapter's own code
    # never tests with cfg, compiles the adapter's code exactly as with no features, against a
    # core already checked with that feature alone: the core loop covers it.
    if [ "$crate" != twofactor-core ] && [ -n "$set" ] && [ "$set" != default ] \
        && ! grep -rqF "feature = \"$set\"" "$crate/src"; then
      printf '  %s: %s (passed through to core: covered)\n' "$crate" "$set"
      continue
    fi
    if [ -z "$set" ]; then args=(--no-default-features); label="no features"
    elif [ "$set" = default ]; then args=(); label="default features"
    else args=(--no-default-features --features "$set"); label="$set"; fi
    printf '  %s: %s\n' "$crate" "$label"
    # Warnings fail too (a feature set that leaves code unused is a bug in the cfg gates), found
    # in the output rather than with RUSTFLAGS=-Dwarnings, which would rebuild every dependency.
    if ! out=$(cargo check -q -p "$crate" --lib --message-format short "${args[@]}" 2>&1) \
        || grep -q 'warning' <<<"$out"; then
      printf '%s\n' "$out" >&2
      failed+=("$crate ($label)")
    fi
    # The docs a user renders with `cargo doc`: with the default features, no dead link either
    # (CI's rustdoc step and docs.rs render with all of them). Reuses the check just made.
    if [ "$set" = default ] && ! out=$(RUSTDOCFLAGS=-Dwarnings cargo doc -q --no-deps -p "$crate" 2>&1); then
      printf '%s\n' "$out" >&2
      failed+=("$crate (rustdoc, default features)")
    fi
  done
done
if [ ${#failed[@]} -gt 0 ]; then
  printf 'feature sets that do not build:\n' >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
