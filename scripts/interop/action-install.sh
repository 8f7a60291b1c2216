#!/usr/bin/env bash
# Tests the action's installer (scripts/action/install.sh) offline: a fake release served from a
# file:// URL (TOLLGATE_RELEASE_URL) and a fake checksum list (TOLLGATE_CHECKSUMS), and a stub
# `cargo` on PATH for the build-from-source path. Checks: a pinned asset is downloaded, verified
# and reused; a tampered asset is refused (exit 2, nothing installed); a version with no pinned
# checksum, and build-from-source: true, build from the action's source with
# `cargo install --locked --path`; binary-path is used as is; checksums.txt is well-formed.
set -euo pipefail
# shellcheck source=scripts/interop/lib.sh
source "$(dirname "$0")/lib.sh"

install_sh="$REPO/scripts/action/install.sh"
work="$INTEROP/action-install"
rm -rf "$work"
mkdir -p "$work/releases/v9.9.9" "$work/stub-bin"
asset="$work/releases/v9.9.9/tollgate-x86_64-unknown-linux-musl"
printf '#!/bin/sh\necho fake tollgate 9.9.9\n' >"$asset"
printf '%s  v9.9.9/tollgate-x86_64-unknown-linux-musl\n' "$(sha256sum "$asset" | cut -d' ' -f1)" >"$work/checksums.txt"
cat >"$work/stub-bin/cargo" <<'EOF2'
#!/bin/sh
# stub: records the call and "installs" a binary under --root
echo "$*" >>"$STUB_CARGO_LOG"
root=""; while [ $# -gt 0 ]; do [ "$1" = --root ] && root="$2"; shift; done
mkdir -p "$root/bin" && printf '#!/bin/sh\necho built from source\n' >"$root/bin/tollgate" && chmod +x "$root/bin/tollgate"
EOF2
chmod +x "$work/stub-bin/cargo"

run_install() { # name [VAR=value...]
  local name="$1"
  shift
  : >"$work/$name.out"
  env RUNNER_OS=Linux RUNNER_ARCH=X64 RUNNER_TEMP="$work/tmp-$name" GITHUB_OUTPUT="$work/$name.out" \
    GITHUB_ACTION_PATH="$REPO" TOLLGATE_RELEASE_URL="file://$work/releases" \
    TOLLGATE_CHECKSUMS="$work/checksums.txt" PATH="$work/stub-bin:$PATH" \
    STUB_CARGO_LOG="$work/cargo.log" INPUT_BUILD_FROM_SOURCE=false "$@" \
    "$install_sh" >"$work/$name.log" 2>&1
}
out() { sed -n "s/^$2=//p" "$work/$1.out"; }

say "a pinned release asset: downloaded, verified, installed"
run_install release INPUT_VERSION=v9.9.9 || fail "install failed: $(cat "$work/release.log")"
[ "$(out release source)" = release ] || fail "source is not release"
[ "$("$(out release path)")" = "fake tollgate 9.9.9" ] || fail "the installed binary does not run"
run_install release INPUT_VERSION=v9.9.9 || fail "second install failed"
grep -q "reusing v9.9.9" "$work/release.log" || fail "the verified binary was not reused"

say "a tampered asset is refused"
echo "echo pwned" >>"$asset"
if run_install tampered INPUT_VERSION=v9.9.9; then fail "a tampered asset was installed"; fi
grep -q "checksum mismatch" "$work/tampered.log" || fail "no checksum mismatch message: $(cat "$work/tampered.log")"
[ -z "$(out tampered path)" ] || fail "a path was output for a tampered asset"
[ ! -e "$work/tmp-tampered/tollgate-action/v9.9.9/tollgate-x86_64-unknown-linux-musl" ] || fail "tampered binary left installed"

say "no pinned asset for the version: build from the action's source"
run_install unpinned INPUT_VERSION=v0.0.0 || fail "install failed: $(cat "$work/unpinned.log")"
[ "$(out unpinned source)" = source ] || fail "source is not source"
grep -qF "install --locked --path $REPO --root $work/tmp-unpinned/tollgate-action/source" "$work/cargo.log" ||
  fail "cargo install not called as expected: $(cat "$work/cargo.log")"
[ "$("$(out unpinned path)")" = "built from source" ] || fail "the built binary does not run"

say "build-from-source: true, and an unknown runner"
run_install forced INPUT_VERSION=v9.9.9 INPUT_BUILD_FROM_SOURCE=true || fail "forced build failed"
[ "$(out forced source)" = source ] || fail "build-from-source: true did not build"
run_install odd INPUT_VERSION=v9.9.9 RUNNER_OS=Windows RUNNER_ARCH=ARM64 || fail "odd runner failed"
[ "$(out odd source)" = source ] || fail "an unknown runner did not fall back to a build"
if run_install badflag INPUT_BUILD_FROM_SOURCE=yes; then fail "build-from-source: yes accepted"; fi

say "binary-path"
run_install given INPUT_BINARY_PATH="$work/stub-bin/cargo" || fail "binary-path failed"
[ "$(out given path)" = "$work/stub-bin/cargo" ] || fail "binary-path not used"
[ "$(out given source)" = binary-path ] || fail "source is not binary-path"

say "checksums.txt is well-formed"
if grep -vE '^(#.*|[0-9a-f]{64}  v[0-9][^/ ]*/tollgate-[a-z0-9_-]+(\.exe)?|)$' "$REPO/scripts/action/checksums.txt"; then
  fail "malformed lines in scripts/action/checksums.txt (above)"
fi
say "action-install: OK"
