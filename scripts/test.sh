#!/usr/bin/env bash
# make test: every check and every test, installing what it needs. Starts and stops its own
# AWS emulator on a port of its own, so it runs beside `make dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/local-aws.sh
. scripts/chromium.sh
. scripts/oidc-provider.sh
. scripts/saml-idp.sh

step() { echo; echo "==> $*"; }
start=$(date +%s)

# cargo-deny from crates.io, built once into a cache outside the clone (about 2 minutes).
ensure_cargo_deny() {
  local root="$HOME/.cache/okta-bridge/tools"
  export PATH="$root/bin:$PATH"
  command -v cargo-deny >/dev/null 2>&1 && return
  echo "installing cargo-deny into $root"
  cargo install cargo-deny --locked --quiet --root "$root" --target-dir "$root/target"
}

# Linting needs only cfn-lint and cargo-deny; the emulator, Chromium and the OpenID provider come
# after it.
ensure_cfn_lint

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings
step "cfn-lint template.yaml"
.venv-lint/bin/cfn-lint template.yaml
step "cargo deny: licences, sources, duplicate versions (deny.toml; advisories need GitHub, out of reach here)"
ensure_cargo_deny
dups=$(cargo deny check --hide-inclusion-graph bans 2>&1 | grep -c "duplicate entries for crate" || true)
cargo deny --log-level error check --hide-inclusion-graph licenses bans sources
echo "cargo deny: $dups crates in two versions (warned, listed by: cargo deny check bans)"
[ "${1:-}" = "--lint-only" ] && exit 0

step "the fast tier: every use case on the in-memory ports, no AWS SDK, no emulator (make test-fast)"
fast_start=$(date +%s)
cargo test -p shared --features fakes --quiet
echo "fast tier: $(( $(date +%s) - fast_start )) s"

ensure_moto
ensure_chromium
ensure_oidc_provider
ensure_saml_idp
ensure_browser_tools

AWS_PORT="${TEST_AWS_PORT:-4567}"
while port_in_use "$AWS_PORT" && ! moto_ready "$AWS_PORT"; do AWS_PORT=$((AWS_PORT + 1)); done
trap stop_moto EXIT INT TERM
start_moto "$AWS_PORT" .local/moto-test.log
aws_env "$AWS_PORT"

step "cargo test (unit, contract and end-to-end tests against the emulator)"
mkdir -p .local
# Every log line of the end-to-end run, and every secret value its tests set or were handed, for
# the secret-leak sweep below.
export OKTA_BRIDGE_LOG_FILE="$PWD/.local/e2e-logs.jsonl" OKTA_BRIDGE_SECRETS_FILE="$PWD/.local/test-secrets.txt"
# Every AWS call each function makes, as IAM sees it, for the least-privilege check below.
export OKTA_BRIDGE_AWS_CALLS_FILE="$PWD/.local/aws-calls.jsonl"
rm -f "$OKTA_BRIDGE_LOG_FILE" "$OKTA_BRIDGE_SECRETS_FILE" "$OKTA_BRIDGE_AWS_CALLS_FILE"
cargo test --workspace --all-features 2>&1 | tee .local/test.log

step "least privilege: every AWS call of the run granted to its function by template.yaml, every grant used"
cargo run --quiet -p okta-bridge-tests --bin iam-check -- "$OKTA_BRIDGE_AWS_CALLS_FILE" template.yaml

step "secret-leak sweep (every secret the tests set, in every log line of the run)"
scripts/secret-sweep.sh .local/test-secrets.txt .local/e2e-logs.jsonl .local/test.log

step "fuzzing, a bounded pass (fuzz/run.sh ${FUZZ_SECONDS:-10}; longer runs: fuzz/run.sh 600)"
fuzz/run.sh "${FUZZ_SECONDS:-10}"

passed=$(awk '/^test result:/ {s += $4} END {print s + 0}' .local/test.log)
failed=$(awk '/^test result:/ {s += $6} END {print s + 0}' .local/test.log)
echo
echo "make test: all checks passed in $(( $(date +%s) - start )) s"
echo "tests: $passed passed, $failed failed"
