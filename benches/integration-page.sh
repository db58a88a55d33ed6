#!/usr/bin/env bash
# The integration page (not a test): the admin router answering a browser on the in-memory ports
# (the page, the people list, Connect to Okta, a refused form), one thread. ITERATIONS (500) per
# case. Figures: stdout and .local/bench/integration-page.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/okta-bridge/target}"
cargo bench -p okta-bridge-tests --bench integration_page
