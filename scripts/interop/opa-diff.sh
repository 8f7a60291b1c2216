#!/usr/bin/env bash
# Differential test of `tollgate eval` against real OPA (v1.20.2, embedded in the PyPI package
# opa-golib-python-bindings) on fixtures/opa-diff/: prints a table, fails on any difference that
# fixtures/opa-diff/known.json does not list. Needs python3 (3.11+) and PyPI.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
venv="$target/interop/opa-venv"
wheels="$target/interop/wheels"
pkg="opa-golib-python-bindings==0.4.4"

if ! "$venv/bin/python" -c 'import opa_bindings, yaml' 2>/dev/null; then
  python3 -m venv "$venv"
  mkdir -p "$wheels"
  # The wheel declares Requires-Python >=3.14 but runs on 3.11: fetch it for 3.14, install it
  # without the metadata check.
  "$venv/bin/pip" download --quiet --no-deps --python-version 3.14 --only-binary=:all: \
    --dest "$wheels" "$pkg"
  "$venv/bin/pip" install --quiet --no-deps --ignore-requires-python "$wheels"/opa_golib_python_bindings-*.whl
  "$venv/bin/pip" install --quiet "pyyaml==6.0.3"   # YAML data files in the corpus
fi

bin="${TOLLGATE_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --locked --quiet
  bin="$target/release/tollgate"
fi
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
exec "$venv/bin/python" scripts/interop/opa_diff.py "$bin" "$@"
