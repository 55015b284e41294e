#!/usr/bin/env bash
# Builds the engine for the browser (pkg/) and the native `sightline` binary.
# Release profile: opt-level 3 then `wasm-opt -Oz` (opt-level "z" decoded 2-2.5x slower).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m[build]\033[0m %s\n' "$*"; }

say "cargo build -p sightline --release --target wasm32-unknown-unknown --lib"
cargo build -p sightline --release --target wasm32-unknown-unknown --lib
say "wasm-bindgen --target web"
wasm-bindgen --target web --out-dir pkg --out-name sightline target/wasm32-unknown-unknown/release/sightline.wasm
say "wasm-opt -Oz"
node_modules/.bin/wasm-opt -Oz \
  --enable-bulk-memory --enable-mutable-globals --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-reference-types --enable-multivalue \
  pkg/sightline_bg.wasm -o pkg/sightline_bg.wasm
say "pkg/sightline_bg.wasm: $(wc -c < pkg/sightline_bg.wasm) bytes, $(gzip -9 -c pkg/sightline_bg.wasm | wc -c) gzipped"
say "cargo build -p sightline-server --release --bin sightline"
cargo build -p sightline-server --release --bin sightline
