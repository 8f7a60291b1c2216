#!/usr/bin/env bash
# Signed OPA bundles made with third-party tools (PyJWT + cryptography, pinned) checked through
# the tollgate binary: signed ones load, tampered/unsigned/padded/pruned/wrongly keyed ones exit 2.
# Real OPA (opa-golib-python-bindings, set up by opa-diff.sh) checks the same JWTs when present.
# usage: scripts/interop/signed-bundles.sh [--write-fixture fixtures/signed-bundle]
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
venv="$target/interop/opa-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if ! "$venv/bin/python" -c 'import jwt, cryptography' 2>/dev/null; then
  "$venv/bin/pip" install --quiet "pyjwt==2.10.1" "cryptography==44.0.3"
fi
bin="${TOLLGATE_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --locked --quiet
  bin="$target/release/tollgate"
fi
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
exec "$venv/bin/python" scripts/interop/signed_bundles.py "$bin" "$@"
