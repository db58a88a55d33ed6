# Sourced by test.sh: headless Chromium (Debian's package) for the status-page rendering test.
# Exports CHROMIUM with the binary's path, installing the package when it is missing.

ensure_chromium() {
  local bin
  bin="$(command -v chromium || command -v chromium-browser || true)"
  if [ -z "$bin" ]; then
    echo "==> installing Debian's chromium (headless rendering of the status page)"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
    bin="$(command -v chromium)"
  fi
  export CHROMIUM="$bin"
}
