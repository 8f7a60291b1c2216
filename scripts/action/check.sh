#!/usr/bin/env bash
# Runs `tollgate check` for the GitHub Action (action.yml, step "check"), writes the step outputs
# `verdict` (pass|deny|error), `exit-code` and `sarif` (the SARIF path when one was written), and
# exits with tollgate's own exit code so that the job fails on 1 (denied) and 2 (could not decide).
#
# Inputs arrive only through the environment (never ${{ }} in the script: no injection). List
# inputs are newline-separated; blank lines and surrounding spaces are ignored.
#   TOLLGATE_BIN     the binary (from install.sh)
#   INPUT_MANIFEST   INPUT_POLICY   INPUT_DATA   INPUT_KEYSTORE   INPUT_KEY
#   INPUT_OUTPUTS    INPUT_FAIL_ON
#   SARIF_DIR        the SARIF report goes to a fresh folder under it (runner.temp), so several
#                    uses of the action in one job keep their own; empty = no SARIF report
set -uo pipefail

bin="${TOLLGATE_BIN:?TOLLGATE_BIN is not set (the install step did not run)}"
output="${GITHUB_OUTPUT:-/dev/null}"
sarif=""
if [ -n "${SARIF_DIR:-}" ]; then
  mkdir -p "$SARIF_DIR"
  sarif="$(mktemp -d "$SARIF_DIR/tollgate.XXXXXX")/tollgate.sarif"
fi

args=(check --manifest "${INPUT_MANIFEST:-tollgate.yaml}" --fail-on "${INPUT_FAIL_ON:-error}")

# Appends `flag value` for every non-blank line of a newline-separated list.
add_each() { # flag list
  local flag="$1" line
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line#"${line%%[![:space:]]*}"}"   # trim leading whitespace
    line="${line%"${line##*[![:space:]]}"}"   # trim trailing whitespace
    [ -n "$line" ] && args+=("$flag" "$line")
  done <<<"$2"
}

add_each --policy "${INPUT_POLICY:-}"
add_each --data "${INPUT_DATA:-}"
# --keystore and --key need a tollgate version with image verification (not released yet); they
# are passed only when set, so the action works with versions that do not know them.
add_each --keystore "${INPUT_KEYSTORE:-}"
add_each --key "${INPUT_KEY:-}"
add_each --output "${INPUT_OUTPUTS:-}"
if [ -n "$sarif" ]; then
  args+=(--output "sarif=$sarif")
fi

echo "tollgate ${args[*]}"
"$bin" "${args[@]}"
code=$?

case "$code" in
  0) verdict=pass ;;
  1) verdict=deny ;;
  *) verdict=error ;;
esac
# Written after tollgate's own `github` report (which sets the same names) so that the action's
# outputs exist even when tollgate stopped before reporting (exit 2) or could not start at all.
{
  echo "verdict=$verdict"
  echo "exit-code=$code"
  if [ -n "$sarif" ] && [ -s "$sarif" ]; then
    echo "sarif=$sarif"
  else
    echo "sarif="
  fi
} >>"$output"

case "$code" in
  0) ;;
  1) echo "tollgate: denied (exit 1); the findings are annotated above and in the step summary" ;;
  2) echo "::error title=tollgate::the gate could not decide (exit 2); see the errors above" ;;
  *) echo "::error title=tollgate::tollgate failed to run (exit $code)" ;;
esac
exit "$code"
