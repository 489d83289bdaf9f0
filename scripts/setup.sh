#!/usr/bin/env bash
# Install what the tests need, only where it is missing: the wasm32 target, Chromium and its
# driver (Debian packages, as root), the page tests' npm packages. wasm-bindgen-cli is installed
# by scripts/build-web.sh at the version Cargo.lock pins.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "setup: /usr/bin/chromium is missing: sudo apt-get install chromium chromium-driver" >&2
    exit 1
  fi
fi
if [ ! -d tests/page/node_modules ] || [ tests/page/package-lock.json -nt tests/page/node_modules ]; then
  (cd tests/page && npm ci --no-audit --no-fund)
fi
