#!/usr/bin/env bash
# Runs every test: native Rust, wasm under Node and in headless Chromium
# (wasm-bindgen-test), the built package under Node, and end-to-end in Chromium.
# Installs what is missing first (scripts/setup.sh) and builds (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m[test]\033[0m %s\n' "$*"; }

bash scripts/setup.sh
bash scripts/build.sh

say "native: cargo test --workspace (the core; the server with its ClickHouse-in-chdb and load tests)"
cargo test --workspace

say "wasm under Node: wasm-bindgen-test"
cargo test -p sightline --target wasm32-unknown-unknown --test wasm

say "wasm in headless Chromium: wasm-bindgen-test (flags in webdriver.json)"
WASM_BINDGEN_USE_BROWSER=1 WASM_BINDGEN_TEST_TIMEOUT=120 \
  cargo test -p sightline --target wasm32-unknown-unknown --test wasm

say "pkg/ under Node: pyarrow-written streams, arrow-testing streams"
python3 tests/fixtures/pyarrow_streams.py tests/out/fixtures
node --test tests/node/

say "the public TypeScript declarations: tsc"
node_modules/.bin/tsc -p tests/types

say "end to end in Chromium: playwright-core (screenshots in tests/out/)"
python3 tests/fixtures/hostile.py tests/out/fixtures
node --test --test-concurrency=1 tests/e2e/

say "the npm package as users get it: npm pack into Vite, webpack, Rollup, esbuild, static, React 18/19 and Vue apps, each drawn under a strict CSP"
node --test tests/apps/
