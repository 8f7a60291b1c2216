#!/usr/bin/env bash
# Validates the GitHub Action (action.yml) and the workflows (.github/workflows/*.yml):
#   - against their JSON schemas, with two independent validators: npm @action-validator/cli and
#     check-jsonschema's vendored SchemaStore schemas (vendor.github-actions / -workflows);
#   - zizmor (offline) for the known Actions pitfalls (template injection, credentials, pinning);
#   - check-actions-security.py: no `${{ }}` in any `run:` block, remote actions pinned by SHA,
#     referenced inputs declared;
#   - shellcheck on the scripts the action runs (scripts/action) and on these (scripts/interop).
# Then it proves the checks bite: a deliberately bad action must fail each of them.
set -euo pipefail
# shellcheck source=scripts/interop/lib.sh
source "$(dirname "$0")/lib.sh"

ensure_venv
ensure_npm
cd "$REPO"
validator="$NPM_DIR/node_modules/.bin/action-validator"
files=(action.yml .github/workflows/*.yml)

say "action-validator (schema): ${files[*]}"
for f in "${files[@]}"; do
  "$validator" "$f" || fail "action-validator rejects $f"
done

say "check-jsonschema (SchemaStore schemas)"
"$VENV/bin/check-jsonschema" --builtin-schema vendor.github-actions action.yml
"$VENV/bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml

say "zizmor --offline"
"$VENV/bin/zizmor" --offline --quiet action.yml .github/workflows/ || fail "zizmor has findings"

say "no expressions in run: blocks, actions pinned by SHA, inputs declared"
"$VENV/bin/python" scripts/interop/check-actions-security.py "${files[@]}" || fail "see above"

say "shellcheck"
"$VENV/bin/shellcheck" -x scripts/action/*.sh scripts/interop/*.sh

# --- the checks must reject a bad action ---------------------------------------------------
bad="$INTEROP/bad-action"
rm -rf "$bad"
mkdir -p "$bad"
cat >"$bad/action.yml" <<'EOF'
name: bad
description: injects an input into a script, and pins by tag
inputs:
  title:
    description: a title
runs:
  using: composite
  steps:
    - shell: bash
      run: echo "${{ inputs.title }} ${{ inputs.undeclared }}"
    - uses: github/codeql-action/upload-sarif@v3
EOF
mkdir -p "$bad/invalid"
cat >"$bad/invalid/action.yml" <<'EOF'
name: invalid
inputs:
  x:
    required: maybe
runs:
  using: composite
  steps:
    - run: echo no shell
EOF
expect_fail() { # what command...
  local what="$1"
  shift
  if "$@" >"$bad/out.txt" 2>&1; then
    cat "$bad/out.txt"
    fail "$what accepted a bad action"
  fi
}
expect_fail "check-actions-security.py" "$VENV/bin/python" scripts/interop/check-actions-security.py "$bad/action.yml"
grep -q 'inputs.title' "$bad/out.txt" || fail "injection of inputs.title not reported"
grep -q 'not pinned' "$bad/out.txt" || fail "tag pin not reported"
grep -q 'inputs.undeclared is referenced but not declared' "$bad/out.txt" || fail "undeclared input not reported"
expect_fail "zizmor" "$VENV/bin/zizmor" --offline "$bad/action.yml"
grep -q 'template-injection' "$bad/out.txt" || fail "zizmor did not report template-injection"
expect_fail "action-validator" "$validator" "$bad/invalid/action.yml"
expect_fail "check-jsonschema" "$VENV/bin/check-jsonschema" --builtin-schema vendor.github-actions "$bad/invalid/action.yml"
say "action-validate: OK (and each check rejects a bad action)"
