#!/usr/bin/env bash
# The project's test command. Installs what is missing (scripts/setup.sh), then runs:
#   1. cargo tests: unit and integration tests of the model crate, end-to-end tests of the CLI;
#   2. the model crate's build for wasm32-unknown-unknown;
#   3. the page tests: builds the WASM module and the page (scripts/build-web.sh) and drives it in
#      headless Chromium on WebGPU (SwiftShader) and on the CPU fallback (node --test tests/page/).
# Tests that need the data sets read $DA3D_DATA_DIR (default ../shared/datasets).
# DA3D_SKIP_PAGE=1 runs only steps 1-2.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/da3d-target}"
export DA3D_DATA_DIR="${DA3D_DATA_DIR:-$PWD/../shared/datasets}"
scripts/setup.sh
cargo test "$@"
cargo build -p da3d --target wasm32-unknown-unknown
if [ "${DA3D_SKIP_PAGE:-0}" != 1 ]; then
  DA3D_WASM_OPT="${DA3D_WASM_OPT:-0}" DA3D_WEB_DATASETS="${DA3D_WEB_DATASETS:-mammography}" scripts/build-web.sh
  node --test --test-concurrency=1 tests/page/
fi
