# Sourced by test.sh: the SSO tests' OpenID provider (panva/oidc-provider from the npm registry,
# pinned by tests/oidc-provider/package-lock.json), installed into tests/oidc-provider/node_modules.

ensure_oidc_provider() {
  local dir=tests/oidc-provider
  if ! command -v node >/dev/null; then
    echo "==> installing Node.js (Debian's nodejs, npm) for the SSO tests' OpenID provider"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  if [ ! -f "$dir/node_modules/.installed-lock" ] || ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.installed-lock"; then
    echo "==> installing the OpenID provider (npm ci in $dir)"
    npm ci --prefix "$dir" --no-audit --no-fund --silent
    cp "$dir/package-lock.json" "$dir/node_modules/.installed-lock"
  fi
}
