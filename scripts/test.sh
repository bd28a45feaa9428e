#!/usr/bin/env bash
# Runs the test suite with node's built-in runner.
#   scripts/test.sh             every test
#   scripts/test.sh unit        every test outside test/integration and test/e2e (the slowest)
#   scripts/test.sh FILE...     the named files
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-all}" in
  all) mapfile -t files < <(find test -name '*.test.ts' | sort) ;;
  unit) mapfile -t files < <(find test -name '*.test.ts' -not -path 'test/integration/*' \
    -not -path 'test/e2e/*' | sort) ;;
  *) files=("$@") ;;
esac

if [ "${#files[@]}" -eq 0 ]; then
  echo "no test files found" >&2
  exit 1
fi

export SWEEP_LOG_LEVEL="${SWEEP_LOG_LEVEL:-warn}"
exec node --import tsx --test --test-concurrency=1 --test-timeout=900000 "${files[@]}"
