#!/usr/bin/env bash
# The demo page in a real browser: tests/browser/flow.mjs drives Debian's chromium with
# playwright-core through send, a wrong code, the right code and the protected call, then a lock
# and a rate limit, on both demos, and keeps a screenshot of each step in
# target/browser-screenshots/ (the paths are printed).
#
# Installs what is missing (chromium with apt-get, node and npm with apt-get, the npm packages
# pinned by tests/browser/package-lock.json with `npm ci`), builds the example binaries once, and
# stops every process it started when it exits, whatever the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium"
  apt_install chromium
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "installing node and npm"
  apt_install nodejs npm
fi

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    # The script's own process group: node, the demos it started, chromium.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
# A signal ends the script through exit, so that the EXIT trap runs.
trap 'exit 130' INT
trap 'exit 143' TERM

# The packages as the lock file pins them; reinstalled only when the lock file changed.
lock=tests/browser/package-lock.json
stamp=tests/browser/node_modules/.installed-lock
if [[ ! -f "$stamp" ]] || ! cmp -s "$lock" "$stamp"; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
  cp "$lock" "$stamp"
fi

# As `cargo test --workspace` builds them (see .ci/schemathesis.sh): no second build.
cargo build --quiet --workspace --examples

rm -rf target/browser-screenshots
# In a process group of its own (set -m), so that the trap reaches everything under it.
set -m
CHROMIUM="$(command -v chromium)" node tests/browser/flow.mjs &
pids+=("$!")
set +m
status=0
wait "${pids[0]}" || status=$?
exit "$status"
