#!/usr/bin/env bash
# Packaging: what crates.io users would download. twofactor-core is packaged and its packaged
# copy built on its own; the adapters depend on core from a registry until it is published, so
# for them the file list is checked (README, licenses, sources — the Lua and SQL the stores
# embed included — nothing else).
set -euo pipefail
cd "$(dirname "$0")/.."

check_list() {
  local crate=$1 list
  list=$(cargo package --list --allow-dirty -p "$crate")
  for needed in Cargo.toml README.md LICENSE-MIT LICENSE-APACHE src/lib.rs; do
    grep -qx "$needed" <<<"$list" || { echo "$crate: $needed is not packaged" >&2; return 1; }
  done
  local stray
  stray=$(grep -vE '^(src/.*|Cargo\.toml|Cargo\.toml\.orig|Cargo\.lock|README\.md|LICENSE-(MIT|APACHE)|\.cargo_vcs_info\.json)$' <<<"$list" || true)
  if [ -n "$stray" ]; then
    printf '%s packages stray files:\n%s\n' "$crate" "$stray" >&2
    return 1
  fi
  printf '  %s: %s files, clean\n' "$crate" "$(wc -l <<<"$list")"
}

for crate in twofactor-core twofactor-tower twofactor-actix; do
  check_list "$crate"
done
# Builds the .crate of core in target/package and compiles it as a user would get it.
cargo package -q --allow-dirty -p twofactor-core
echo "  twofactor-core: packaged and built on its own"
