#!/usr/bin/env bash
# The project's test command. Installs what is missing (scripts/setup.sh), then runs:
#   1. cargo tests: unit and integration tests of the model crate, end-to-end tests of the CLI,
#      including training on wgpu (Mesa's lavapipe: DA3D_REQUIRE_WGPU=1 makes a missing adapter a
#      failure) against the CPU;
#   2. the Python package (crates/da3d-py) built into a virtual environment and its pytest suite
#      (scripts/test-python.sh; DA3D_SKIP_PYTHON=1 leaves it out);
#   3. the model crate's build for wasm32-unknown-unknown;
#   4. the page tests: builds the WASM module and the page (scripts/build-web.sh), runs the web
#      crate's Rust tests inside headless Chromium (wasm-bindgen-test: WebGPU on SwiftShader and
#      the CPU backend), then drives the page on WebGPU and on the CPU fallback (node --test).
# Tests that need the data sets read $DA3D_DATA_DIR (default ../shared/datasets).
# DA3D_SKIP_PAGE=1 runs only steps 1-3.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/da3d-target}"
export DA3D_DATA_DIR="${DA3D_DATA_DIR:-$PWD/../shared/datasets}"
scripts/setup.sh
DA3D_REQUIRE_WGPU="${DA3D_REQUIRE_WGPU:-1}" cargo test "$@"
if [ "${DA3D_SKIP_PYTHON:-0}" != 1 ]; then
  scripts/test-python.sh
fi
cargo build -p da3d --target wasm32-unknown-unknown
if [ "${DA3D_SKIP_PAGE:-0}" != 1 ]; then
  DA3D_WASM_OPT="${DA3D_WASM_OPT:-0}" DA3D_WEB_DATASETS="${DA3D_WEB_DATASETS:-mammography}" scripts/build-web.sh
  # Chromium's WebGPU runs on its own SwiftShader Vulkan driver: no VK_DRIVER_FILES for it.
  env -u VK_DRIVER_FILES CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=1200 \
    cargo test -p da3d-web --target wasm32-unknown-unknown
  env -u VK_DRIVER_FILES node --test --test-concurrency=1 tests/page/
fi
