#!/usr/bin/env bash
# Benchmark of an enterprise-size tenant on the DynamoDB model (not a test; no emulator): a hook
# delivery, the worker, SCIM requests, an Okta-style import of 100,000 users and 32 concurrent
# writers in one tenant. Sizes: HOOK_DELIVERIES, WORKER_USERS, SCIM_USERS, GROUP_MEMBERS,
# SCIM_REQUESTS, IMPORT_USERS, WRITERS, WRITES_PER_WRITER. Figures: stdout and
# .local/bench/enterprise.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/okta-bridge/target}"
cargo bench -p okta-bridge-tests --bench enterprise
