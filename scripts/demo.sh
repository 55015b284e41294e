#!/usr/bin/env bash
# Builds everything and serves the demo at http://127.0.0.1:${PORT:-8080}/ with 1M demo events.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
exec target/release/sightline serve --root . --port "${PORT:-8080}" "$@"
