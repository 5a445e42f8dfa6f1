#!/usr/bin/env bash
# Builds the release binary and times `promptops validate` over 10,000 generated files.
# Usage: bench/validate.sh [-n N] [--runs R]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p promptops
exec python3 bench/validate.py --binary target/release/promptops "$@"
