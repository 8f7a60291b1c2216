#!/usr/bin/env bash
# Evaluation cost per input of the builtin library in OPA (in-process, opa-golib-python-bindings)
# and tollgate (in-process, `tollgate eval --repeat`), on the example's input and a larger one, in
# one run; prints a Markdown table. Reuses the OPA venv of scripts/interop/opa-diff.sh.
# usage: scripts/bench/opa-compare.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
venv="$target/interop/opa-venv"
if ! "$venv/bin/python" -c 'import opa_bindings' 2>/dev/null; then
  echo "OPA bindings missing: run scripts/interop/opa-diff.sh once to install them" >&2
  exit 2
fi
bin="${TOLLGATE_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --locked --quiet
  bin="$target/release/tollgate"
fi
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
input="$(mktemp)"
trap 'rm -f "$input"' EXIT
"$bin" check -m fixtures/example/tollgate.yaml --platform local --print-input > "$input"
exec "$venv/bin/python" scripts/bench/opa_compare.py "$bin" "$input" "${1:-200}"
