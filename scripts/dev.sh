#!/usr/bin/env bash
# make dev: the whole system on this machine. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/local-aws.sh
. scripts/oidc-provider.sh
. scripts/saml-idp.sh

AWS_PORT="${AWS_PORT:-4566}"
export PORT="${PORT:-3000}"
command -v cargo >/dev/null || { echo "error: cargo is required (rustup.rs)" >&2; exit 1; }
ensure_moto
# The demo org's sign-in (a real OpenID provider with the demo users); make dev runs without SSO if
# Node is missing and cannot be installed.
ensure_oidc_provider || echo "warning: the demo OpenID provider could not be installed; SSO is off in make dev" >&2
# The SAML demo tenant's IdP (samlp); without it the SAML tenant has no sign-in.
ensure_saml_idp || echo "warning: the demo SAML IdP could not be installed; SAML sign-in is off in make dev" >&2
trap stop_moto EXIT INT TERM
start_moto "$AWS_PORT" .local/moto-dev.log
aws_env "$AWS_PORT"
export ALLOW_INSECURE_OKTA=1
echo "==> building the functions and the dev server"
cargo build --quiet -p okta-bridge-tests --bin okta-bridge-dev
bin="${CARGO_TARGET_DIR:-target}/debug/okta-bridge-dev"
"$bin"
