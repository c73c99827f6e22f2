#!/usr/bin/env bash
# The test command: installs the real servers the tests use (if missing), then lint, types, layers, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-servers.sh
echo "== ruff";  ruff check src tests benchmarks examples
echo "== mypy";  mypy
echo "== import-linter"; lint-imports
echo "== pytest"; python -m pytest "$@"
