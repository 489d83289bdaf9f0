#!/usr/bin/env bash
# Install what the tests need, only where it is missing: the wasm32 target, Chromium and its
# driver and Mesa's software Vulkan driver "lavapipe" (Debian packages, as root: it gives wgpu an
# adapter without a GPU), the page tests' npm packages. wasm-bindgen-cli is installed by
# scripts/build-web.sh at the version Cargo.lock pins.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
missing=()
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || missing+=(chromium chromium-driver)
ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || missing+=(mesa-vulkan-drivers libvulkan1)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
if [ ! -d tests/page/node_modules ] || [ tests/page/package-lock.json -nt tests/page/node_modules ]; then
  (cd tests/page && npm ci --no-audit --no-fund)
fi
