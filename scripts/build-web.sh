#!/usr/bin/env bash
# Build the browser page in www/: the da3d-web crate → WebAssembly → wasm-bindgen (the version
# pinned in Cargo.lock, installed only when missing or different) → www/pkg/; the data sets →
# www/data/ with www/data/index.json.
#
#   scripts/build-web.sh            build what visitors get: the `web` profile (opt-level 3, fat
#                                   LTO, one codegen unit, panic = abort) with WebAssembly SIMD
#                                   (+simd128), names and producers sections removed; two modules:
#                                   www/pkg-cpu/ (CPU backend only, what the page loads to train on the CPU) and
#                                   www/pkg/ (WebGPU and CPU; the `web-gpu` profile)
#   scripts/build-web.sh --serve    build, then serve www/ on http://127.0.0.1:8080
#   scripts/build-web.sh --debug    the dev profile instead (no SIMD, www/pkg/ only): a quicker
#                                   rebuild while working on the page, a larger, slower module
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/da3d-target), DA3D_DATA_DIR (default
# ../shared/datasets), DA3D_WEB_DATASETS (default "mammography nslkdd census": those found are
# copied), DA3D_WASM_OPT=1 to run wasm-opt -O3 as well (npm binaryen@132; minutes, and measured on
# these modules: no smaller gzip, no faster epoch: docs/performance.md), PORT (default 8080).
# www/pkg/, www/pkg-cpu/ and www/data/ are build outputs (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/da3d-target}"
DATA_DIR="${DA3D_DATA_DIR:-../shared/datasets}"
DATASETS="${DA3D_WEB_DATASETS:-mammography nslkdd census}"
PORT="${PORT:-8080}"
profile=web
serve=0
for arg in "$@"; do
  case "$arg" in
    --serve) serve=1 ;;
    --debug) profile=debug ;;
    --release | --web) profile=web ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-web.sh: unknown argument '$arg' (--serve, --debug)" >&2; exit 2 ;;
  esac
done

step() { printf '\n== %s\n' "$*" >&2; }

# --- 1. wasm-bindgen at exactly the version of the wasm-bindgen crate in Cargo.lock ---------
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
want=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$want" ] || { echo "build-web.sh: no wasm-bindgen in Cargo.lock" >&2; exit 1; }
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
  step "installing wasm-bindgen-cli $want (found: ${have:-none}); about 9 minutes on 2 cores"
  # --locked can fail when the registry lacks one pinned dependency version: retry without it.
  cargo install wasm-bindgen-cli --version "=$want" --locked || cargo install wasm-bindgen-cli --version "=$want"
fi

wasm_opt=tests/page/node_modules/.bin/wasm-opt
if [ "${DA3D_WASM_OPT:-0}" = 1 ] && [ ! -x "$wasm_opt" ] && command -v npm >/dev/null; then
  step "npm ci in tests/page (binaryen@132 for wasm-opt, playwright-core for the page tests)"
  (cd tests/page && npm ci --no-audit --no-fund) || echo "build-web.sh: npm ci failed; skipping wasm-opt" >&2
fi

# --- 2. a module: cargo build → wasm-bindgen (→ wasm-opt when asked: npm binaryen@132, Debian's
#        binaryen 108 breaks current rustc modules) --------------------------------------------
# build_module OUT_DIR PROFILE [cargo flags…]   (PROFILE: web, web-gpu or debug)
build_module() {
  local dir=$1 module_profile=$2
  shift 2
  step "cargo build -p da3d-web --target wasm32-unknown-unknown ($module_profile) $* → $dir"
  local cargo_args=(build -p da3d-web --target wasm32-unknown-unknown "$@")
  [ "$module_profile" != debug ] && cargo_args+=(--profile "$module_profile")
  local started
  started=$(date +%s)
  cargo "${cargo_args[@]}"
  echo "cargo build ($module_profile $*): $(($(date +%s) - started)) s" >&2
  local wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/$module_profile/da3d_web.wasm"
  [ -f "$wasm" ] || { echo "build-web.sh: $wasm is missing after the build" >&2; exit 1; }
  step "wasm-bindgen $want --target web --out-dir $dir"
  rm -rf "$dir"
  local bindgen_args=(--target web --out-dir "$dir")
  # The function names (~4 MB in the WebGPU module) only name frames in a panic's stack trace.
  [ "$profile" = web ] && bindgen_args+=(--remove-name-section --remove-producers-section)
  wasm-bindgen "${bindgen_args[@]}" "$wasm"
  local out=$dir/da3d_web_bg.wasm
  if [ "${DA3D_WASM_OPT:-0}" = 1 ]; then
    if [ -x "$wasm_opt" ]; then
      # wasm-opt takes minutes: keep its output per input hash and reuse it.
      local cache="$CARGO_TARGET_DIR/da3d-web-opt" key before
      key=$(sha256sum "$out" | cut -c1-16)
      before=$(stat -c %s "$out")
      if [ -f "$cache/$key.wasm" ]; then
        step "wasm-opt -O3: unchanged module, reusing $cache/$key.wasm"
        cp "$cache/$key.wasm" "$out"
      else
        step "wasm-opt -O3 ($("$wasm_opt" --version)); minutes"
        # (features, SIMD included, are read from the module's target_features section)
        started=$(date +%s)
        "$wasm_opt" -O3 "$out" -o "$out.opt"
        mv "$out.opt" "$out"
        mkdir -p "$cache"
        find "$cache" -name '*.wasm' -mtime +2 -delete # keep the recent ones (one per module)
        cp "$out" "$cache/$key.wasm"
        echo "wasm-opt: $(($(date +%s) - started)) s" >&2
      fi
      echo "wasm-opt: $before → $(stat -c %s "$out") bytes" >&2
    else
      echo "build-web.sh: wasm-opt (npm binaryen@132) unavailable; the module stays unoptimised" >&2
    fi
  fi
}

if [ "$profile" = web ]; then
  # SIMD for the page's modules only (the compiler's vectorised loops, the model crate's kernels,
  # and gemm's SIMD kernels, which the web crate switches on when built with it); the dev
  # profile's wasm builds (the browser tests of the web crate) keep their flags and their cache.
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS:--C target-feature=+simd128}"
  # The CPU-only module first (what the page loads to train on the CPU), then the one with WebGPU.
  build_module www/pkg-cpu web --no-default-features
  # The WebGPU module: its own profile (Cargo.toml: the parts that serve no GPU training at
  # opt-level 1, a quicker build).
  build_module www/pkg web-gpu
else
  rm -rf www/pkg-cpu # the page then loads www/pkg for the CPU too
  build_module www/pkg debug
fi

# --- 4. data sets for the page ---------------------------------------------------------------
step "data sets from $DATA_DIR → www/data"
rm -rf www/data
mkdir -p www/data
title() {
  case "$1" in
    mammography) echo "Mammography" ;;
    nslkdd) echo "NSL-KDD" ;;
    census) echo "Census" ;;
    *) echo "$1" ;;
  esac
}
entries=()
for name in $DATASETS; do
  file=""
  for candidate in "$name.csv" "$name.csv.gz"; do
    [ -f "$DATA_DIR/$candidate" ] && { file=$candidate; break; }
  done
  if [ -z "$file" ]; then
    echo "  $name: not found in $DATA_DIR (skipped)" >&2
    continue
  fi
  cp "$DATA_DIR/$file" "www/data/$file"
  bytes=$(stat -c %s "www/data/$file")
  # rows = lines - header (gzip read through zcat)
  if [[ "$file" == *.gz ]]; then lines=$(zcat "www/data/$file" | wc -l); else lines=$(wc -l <"www/data/$file"); fi
  entries+=("{\"name\": \"$name\", \"title\": \"$(title "$name")\", \"file\": \"data/$file\", \"bytes\": $bytes, \"rows\": $((lines - 1))}")
  echo "  $name: data/$file ($bytes bytes, $((lines - 1)) rows)" >&2
done
[ "${#entries[@]}" -gt 0 ] || echo "build-web.sh: warning: no data set found in $DATA_DIR (set DA3D_DATA_DIR)" >&2
{
  echo '{"datasets": ['
  for i in "${!entries[@]}"; do
    sep=","
    [ "$i" -eq $((${#entries[@]} - 1)) ] && sep=""
    echo "  ${entries[$i]}$sep"
  done
  echo ']}'
} >www/data/index.json

# --- 5. sizes ----------------------------------------------------------------------------------
for dir in www/pkg-cpu www/pkg; do
  [ -f "$dir/da3d_web_bg.wasm" ] || continue
  raw=$(stat -c %s "$dir/da3d_web_bg.wasm")
  gz=$(gzip -9 -c "$dir/da3d_web_bg.wasm" | wc -c)
  awk -v d="$dir" -v r="$raw" -v g="$gz" 'BEGIN { printf "%s/da3d_web_bg.wasm: %d bytes raw (%.1f MiB), %d bytes gzipped (%.2f MiB)\n", d, r, r / 1048576, g, g / 1048576 }'
done
echo "page: www/ (index.html, style.css, the ES modules www/*.js, pkg/, pkg-cpu/, data/)"

if [ "$serve" = 1 ]; then
  echo "serving www/ on http://127.0.0.1:$PORT (Ctrl-C to stop)"
  exec python3 -m http.server "$PORT" --bind 127.0.0.1 --directory www
fi
