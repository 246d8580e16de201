#!/usr/bin/env bash
# The demos against their own OpenAPI document, checked by an outside tester: schemathesis.
#
# Builds the axum and actix demos, starts each on a free loopback port with no configuration
# (console provider, in-memory store) but TWOFACTOR_COOKIE_SECURE=false, checks that
# GET /openapi.json is valid OpenAPI 3.1 (openapi-spec-validator), then lets schemathesis
# generate requests from it and check every response: no 5xx at all (the console provider
# cannot fail, so even the documented 502/503/504 must not occur), the status documented, the
# content type, the headers and the body schema, invalid data refused, undeclared methods 405
# with Allow (a 413 for a body over the size limit counts as refused: .ci/schemathesis.toml).
# Any finding fails the script. The servers are stopped on exit.
#
# Needs the PyPI packages schemathesis and openapi-spec-validator for python3 (.ci/run installs
# them).
# SCHEMATHESIS_EXAMPLES (default 100) bounds the examples per operation; SCHEMATHESIS_SEED
# replays a run (schemathesis prints the seed it used).
set -euo pipefail
cd "$(dirname "$0")/.."

examples="${SCHEMATHESIS_EXAMPLES:-100}"
checks=(
  not_a_server_error
  status_code_conformance
  content_type_conformance
  response_headers_conformance
  response_schema_conformance
  negative_data_rejection
  missing_required_header
  unsupported_method
  allow_header_conformance
)
# Not checked: positive_data_acceptance (a schema-valid phone need not be a real number, nor a
# schema-valid code the right one: 400 invalid_phone and 422 are the contract), and the
# stateful and authorization checks (no credentials to give, no resources to link).

# The tools as pip installed them for python3 (a pyenv shim may not exist until a rehash).
scripts="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || true)"
tool() {
  if [[ -n "$scripts" && -x "$scripts/$1" ]]; then
    echo "$scripts/$1"
  elif command -v "$1" >/dev/null 2>&1; then
    command -v "$1"
  else
    echo "$1 is not installed (pip install $1)" >&2
    return 1
  fi
}
schemathesis="$(tool schemathesis)"
spec_validator="$(tool openapi-spec-validator)"

# The whole workspace's examples, as `cargo test --workspace` builds them: the same feature
# resolution, so after the tests this is a no-op instead of a second build of the dependencies
# (`-p twofactor-examples` alone resolves the features differently).
cargo build --quiet --workspace --examples

work="$(mktemp -d)"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  # actix shuts down gracefully on SIGTERM; give it a few seconds, then no more.
  for _ in $(seq 1 50); do
    local alive=0
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null && alive=1
    done
    [[ $alive == 0 ]] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Starts demo $1 on a free port (BIND=127.0.0.1:0) and sets `base` to its URL once it answers.
# Not to be called in a subshell: the trap must know the server's pid.
base=""
start() {
  local demo="$1" log="$work/$1.log" found=""
  base=""
  env -i PATH="$PATH" HOME="${HOME:-/root}" RUST_LOG=warn,twofactor_examples=info \
    BIND=127.0.0.1:0 TWOFACTOR_COOKIE_SECURE=false \
    "target/debug/examples/$demo" >"$work/$demo.stdout" 2>"$log" &
  pids+=("$!")
  for _ in $(seq 1 100); do
    found="$(grep -ao 'listening on http://[0-9.:]*' "$log" | head -n1 | sed 's/^listening on //')" || true
    if [[ -n "$found" ]] && curl -fsS "$found/health" >/dev/null 2>&1; then
      base="$found"
      return 0
    fi
    sleep 0.1
  done
  echo "the $demo demo did not start:" >&2
  cat "$log" >&2
  return 1
}

# A bearer token for $2 from demo $1 at $3: a send, the code from the console provider's stdout
# line, a verify.
token() {
  local demo="$1" phone="$2" base="$3" code=""
  curl -fsS -X POST -H 'content-type: application/json' -d "{\"phone\":\"$phone\"}" \
    "$base/phone/send" >/dev/null
  for _ in $(seq 1 50); do
    code="$(grep -ao "to $phone: code [0-9]*" "$work/$demo.stdout" | tail -n1 | awk '{print $NF}')" || true
    [[ -n "$code" ]] && break
    sleep 0.1
  done
  curl -fsS -X POST -H 'content-type: application/json' \
    -d "{\"phone\":\"$phone\",\"code\":\"$code\"}" "$base/phone/verify" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}

run() {
  local demo="$1" started bearer
  started=$(date +%s)
  printf '\n--- %s demo\n' "$demo"
  start "$demo"
  curl -fsS -D "$work/$demo.headers" "$base/openapi.json" -o "$work/$demo.openapi.json"
  grep -qi '^content-type: application/json' "$work/$demo.headers" || {
    echo "GET /openapi.json is not application/json" >&2
    exit 1
  }
  "$spec_validator" "$work/$demo.openapi.json"
  # A phone no generated request uses (the document's example is +919812345678).
  bearer="$(token "$demo" +919876543210 "$base")"
  local args=(run "$base/openapi.json" --checks "$(IFS=,; echo "${checks[*]}")"
    --max-examples "$examples" --request-timeout 10 --no-color)
  if [[ -n "${SCHEMATHESIS_SEED:-}" ]]; then
    args+=(--seed "$SCHEMATHESIS_SEED")
  fi
  printf -- '--- %s demo, anonymous: every operation\n' "$demo"
  NO_COLOR=1 "$schemathesis" --config-file .ci/schemathesis.toml "${args[@]}"
  # With a valid token, the routes that answer differently for one: the guarded routes' 200
  # and the status's verified shape (logout left out: it would revoke the token).
  printf -- '--- %s demo, with a verified bearer token: /protected*, /phone/status\n' "$demo"
  NO_COLOR=1 "$schemathesis" --config-file .ci/schemathesis.toml "${args[@]}" \
    -H "Authorization: Bearer $bearer" \
    --include-path-regex '^/(protected|phone/status)' --generation-with-security-parameters false
  printf -- '--- %s demo: ok in %ss\n' "$demo" "$(($(date +%s) - started))"
}

run axum
run actix
