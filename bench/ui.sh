#!/usr/bin/env bash
# Server time of every web UI page on a registry of 1,000 prompts × 20 versions and
# 100,000 audit events, against the 50 ms bound (see docs/ui.md#speed). The registry is
# seeded once into target/ui-bench/ (delete it to seed again).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench -p promptops-server --bench ui_pages "$@"
