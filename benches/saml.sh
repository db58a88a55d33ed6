#!/usr/bin/env bash
# Checking a SAML response (not a test): decode + every rule + the XML signature (Bergshamra), per
# case, on one thread, in memory (no I/O: the ACS's DynamoDB writes are measured by the load and
# cold-start benchmarks). ITERATIONS (2000) per case. Figures: stdout and .local/bench/saml.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/okta-bridge/target}"
cargo bench -p okta-bridge-tests --bench saml_verify
