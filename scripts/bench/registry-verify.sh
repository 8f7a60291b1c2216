#!/usr/bin/env bash
# Benchmark of one image verification on loopback: wall time of `tollgate verify` and the HTTP
# requests it makes (counted from docker-registry's access log), against an open registry and
# one with htpasswd auth. Needs what scripts/test installs (docker-registry, skopeo, htpasswd,
# the registry-test venv).
#   scripts/bench/registry-verify.sh [RUNS]     (default 20; TOLLGATE_BIN overrides the binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
runs="${1:-20}"
python="${TOLLGATE_TEST_PYTHON:-$target/registry-test-venv/bin/python}"
if [ -z "${TOLLGATE_BIN:-}" ]; then
  cargo build --release --locked
  TOLLGATE_BIN="$target/release/tollgate"
fi
echo "tollgate: $TOLLGATE_BIN; $(nproc) CPUs $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u '+%Y-%m-%d %H:%M UTC')" >&2
exec "$python" scripts/bench/registry_verify.py "$TOLLGATE_BIN" "$runs"
