#!/usr/bin/env bash
# Validates SARIF files with the Microsoft SARIF Multitool (npm @microsoft/sarif-multitool, pinned),
# installed once into target/interop/sarif-multitool. Fails on any error- or warning-level result.
#
# Usage: scripts/interop/sarif-validate.sh FILE.sarif...     (no FILE: tollgate's own SARIF for the
# report scenarios is generated first). Warnings fail too (SARIF_STRICT_WARNINGS=0 relaxes that).
# The multitool exits 0 even when the file is invalid, so its output log is counted instead, and the
# .NET binary is called directly (the npm bin.js wrapper splits "Error;Warning;Note" at the ';').
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=5.7.0
CACHE="${SARIF_MULTITOOL_CACHE:-$PWD/target/interop/sarif-multitool}"
BIN="$CACHE/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1

if [ ! -x "$BIN" ]; then
  mkdir -p "$CACHE"
  (cd "$CACHE" && npm install --no-audit --no-fund --silent "@microsoft/sarif-multitool@$VERSION" >/dev/null)
  chmod +x "$BIN"
fi

files=("$@")
if [ "${#files[@]}" -eq 0 ]; then
  out="$PWD/target/interop/sarif-out"
  mkdir -p "$out"
  tollgate="${TOLLGATE_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/tollgate}"
  [ -x "$tollgate" ] || cargo build --locked --quiet
  for scenario in several-failing pass policy-does-not-compile user-policy-path user-policy-metadata unknown-key github-escaping; do
    dir="fixtures/scenarios/$scenario"
    [ -d "$dir" ] || continue
    args=()
    [ -f "$dir/case.json" ] && mapfile -t args < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1])).get("args", [])))' "$dir/case.json" | sed '/^$/d')
    rm -f "$out/$scenario.sarif"
    (cd "$dir" && env -i PATH="$PATH" NO_COLOR=1 "$tollgate" check --platform local \
      --context ../_shared/context.json "${args[@]}" -o "sarif=$out/$scenario.sarif" 2>/dev/null) || true
    [ -s "$out/$scenario.sarif" ] || { echo "$scenario: tollgate wrote no SARIF" >&2; exit 1; }
    files+=("$out/$scenario.sarif")
  done
fi

failed=0
for f in "${files[@]}"; do
  log="$(mktemp --suffix=.sarif)"
  "$BIN" validate "$f" -o "$log" --log ForceOverwrite --level "Error;Warning;Note" -q >/dev/null 2>&1 || true
  read -r errors warnings notes < <(python3 - "$log" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1])).get("runs", [])
results = [r for run in runs for r in run.get("results", [])]
level = lambda l: sum(1 for r in results if r.get("level", "warning") == l)
print(level("error"), level("warning"), level("note"))
PY
)
  echo "$f: $errors error(s), $warnings warning(s), $notes note(s)"
  if [ "$errors" -gt 0 ] || { [ "${SARIF_STRICT_WARNINGS:-1}" = 1 ] && [ "$warnings" -gt 0 ]; }; then
    python3 - "$log" <<'PY'
import json, sys
for run in json.load(open(sys.argv[1])).get("runs", []):
    for r in run.get("results", []):
        print("  ", r.get("level", "warning"), r.get("ruleId"), r.get("message", {}).get("text", "")[:300])
PY
    failed=1
  fi
  rm -f "$log"
done
exit "$failed"
