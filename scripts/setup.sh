#!/usr/bin/env bash
# Installs what building and testing need, skipping whatever is already there:
# the wasm32 Rust target, wasm-bindgen-cli at exactly the crate's version, Debian's
# chromium, chromium-driver and clang (zstd's C code for wasm32), openssl (a throwaway
# certificate for the TLS end-to-end test), npm packages from
# the lockfile (wasm-opt comes from npm's binaryen: Debian's binaryen 108 breaks
# modules from current rustc), and the pinned Python packages the tests use (pyarrow,
# duckdb for the query oracle, chdb: ClickHouse in-process for the ClickHouse source).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

apt_pkgs=()
command -v chromium >/dev/null || apt_pkgs+=(chromium)
command -v chromedriver >/dev/null || apt_pkgs+=(chromium-driver)
command -v clang >/dev/null || apt_pkgs+=(clang)
command -v openssl >/dev/null || apt_pkgs+=(openssl)
command -v node >/dev/null || apt_pkgs+=(nodejs npm)
if ((${#apt_pkgs[@]})); then
  say "apt-get install ${apt_pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

[ -f Cargo.lock ] || cargo generate-lockfile
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WB_VERSION" ]; then
  say "cargo install wasm-bindgen-cli $WB_VERSION"
  # --locked fails for some versions (a locked dependency is missing from the registry).
  cargo install wasm-bindgen-cli --version "$WB_VERSION" --locked \
    || cargo install wasm-bindgen-cli --version "$WB_VERSION"
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund
fi

PY_PKGS=(pyarrow==26.0.1 duckdb==2.0.0 chdb==4.4.0)
if ! python3 -c 'import importlib.metadata as m, sys
want = dict(a.split("==") for a in sys.argv[1:])
sys.exit(any(m.version(k) != v for k, v in want.items()))' "${PY_PKGS[@]}" 2>/dev/null; then
  say "pip install ${PY_PKGS[*]}"
  python3 -m pip install -q --disable-pip-version-check "${PY_PKGS[@]}"
fi
