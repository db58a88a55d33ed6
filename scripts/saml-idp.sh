# Sourced by test.sh and dev.sh: the SAML tests' identity provider (Auth0's samlp from the npm
# registry, pinned by tests/saml-idp/package-lock.json), installed into tests/saml-idp/node_modules.
# Needs node (ensure_oidc_provider installs it first).

ensure_saml_idp() {
  local dir=tests/saml-idp
  if [ ! -f "$dir/node_modules/.installed-lock" ] || ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.installed-lock"; then
    echo "==> installing the SAML identity provider (npm ci in $dir)"
    npm ci --prefix "$dir" --no-audit --no-fund --silent
    cp "$dir/package-lock.json" "$dir/node_modules/.installed-lock"
  fi
}

# The integration page's browser tests: puppeteer-core and axe-core from the npm registry, pinned
# by tests/browser/package-lock.json, installed into tests/browser/node_modules.
ensure_browser_tools() {
  local dir=tests/browser
  if [ ! -f "$dir/node_modules/.installed-lock" ] || ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.installed-lock"; then
    echo "==> installing the browser test tools (npm ci in $dir)"
    npm ci --prefix "$dir" --no-audit --no-fund --silent
    cp "$dir/package-lock.json" "$dir/node_modules/.installed-lock"
  fi
}
