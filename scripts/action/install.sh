#!/usr/bin/env bash
# Installs the tollgate binary for the GitHub Action (action.yml, step "install") and writes its
# path to $GITHUB_OUTPUT as `path` (and how it was obtained as `source`).
#
# Order: INPUT_BINARY_PATH (testing) > a pinned release asset whose SHA-256 is listed in
# checksums.txt beside this script > `cargo install --locked` from the action's own source (when
# INPUT_BUILD_FROM_SOURCE=true, or when no pinned asset fits this runner or version).
# A downloaded asset whose digest does not match is never run: that is an error, not a fallback.
#
# Inputs arrive only through the environment (never ${{ }} in the script: no injection):
#   INPUT_VERSION            release tag, e.g. v0.1.0
#   INPUT_BUILD_FROM_SOURCE  true|false
#   INPUT_BINARY_PATH        use this binary as is (for testing the action against a local build)
#   TOLLGATE_RELEASE_URL     base URL of release downloads (a mirror; default GitHub Releases)
#   TOLLGATE_CHECKSUMS       checksum list to use instead of checksums.txt (testing)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
action_path="${GITHUB_ACTION_PATH:-$(cd "$here/../.." && pwd)}"
version="${INPUT_VERSION:-}"
from_source="${INPUT_BUILD_FROM_SOURCE:-false}"
binary_path="${INPUT_BINARY_PATH:-}"
release_url="${TOLLGATE_RELEASE_URL:-https://github.com/tollgate-dev/tollgate/releases/download}"
checksums="${TOLLGATE_CHECKSUMS:-$here/checksums.txt}"
temp="${RUNNER_TEMP:-${TMPDIR:-/tmp}}"
output="${GITHUB_OUTPUT:-/dev/null}"

emit() { # name value
  printf '%s=%s\n' "$1" "$2" >>"$output"
}

case "$from_source" in
  true | false) ;;
  *)
    echo "::error title=tollgate::build-from-source must be 'true' or 'false', got '$from_source'"
    exit 2
    ;;
esac

if [ -n "$binary_path" ]; then
  if [ ! -x "$binary_path" ]; then
    echo "::error title=tollgate::binary-path '$binary_path' is not an executable file"
    exit 2
  fi
  echo "tollgate: using the binary at $binary_path (binary-path)"
  emit path "$binary_path"
  emit source binary-path
  exit 0
fi

# The release asset for this runner: static musl binaries on Linux, native ones elsewhere.
exe=""
case "${RUNNER_OS:-$(uname -s)}/${RUNNER_ARCH:-$(uname -m)}" in
  Linux/X64 | Linux/x86_64) target=x86_64-unknown-linux-musl ;;
  Linux/ARM64 | Linux/aarch64) target=aarch64-unknown-linux-musl ;;
  macOS/X64 | Darwin/x86_64) target=x86_64-apple-darwin ;;
  macOS/ARM64 | Darwin/arm64) target=aarch64-apple-darwin ;;
  Windows/X64) target=x86_64-pc-windows-msvc exe=.exe ;;
  *) target="" ;;
esac

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

build_from_source() {
  local root="$temp/tollgate-action/source"
  local bin="$root/bin/tollgate$exe"
  if [ -x "$bin" ]; then
    echo "tollgate: reusing the build from source at $bin"
  else
    if ! command -v cargo >/dev/null 2>&1; then
      echo "::error title=tollgate::building tollgate from source needs cargo (rustup) on the runner; GitHub-hosted runners have it, self-hosted ones may not"
      exit 2
    fi
    echo "::group::tollgate: cargo install --locked --path $action_path"
    # From inside the action's folder so that its rust-toolchain.toml picks the compiler.
    (cd "$action_path" && cargo install --locked --path "$action_path" --root "$root")
    echo "::endgroup::"
  fi
  emit path "$bin"
  emit source source
}

if [ "$from_source" = true ]; then
  build_from_source
  exit 0
fi

asset="tollgate-$target$exe"
expected=""
if [ -n "$target" ] && [ -n "$version" ] && [ -f "$checksums" ]; then
  expected="$(awk -v want="$version/$asset" '$1 !~ /^#/ && $2 == want { print $1; exit }' "$checksums")"
fi
if [ -z "$expected" ]; then
  echo "::notice title=tollgate::no pinned release asset for tollgate ${version:-(no version)} on ${target:-this runner (${RUNNER_OS:-?}/${RUNNER_ARCH:-?})}; building from the action's source instead (no release has been published yet)"
  build_from_source
  exit 0
fi

root="$temp/tollgate-action/$version"
bin="$root/tollgate$exe"
if [ -x "$bin" ] && [ "$(sha256_of "$bin")" = "$expected" ]; then
  echo "tollgate: reusing $version at $bin"
else
  mkdir -p "$root"
  url="$release_url/$version/$asset"
  echo "tollgate: downloading $url"
  curl --fail --silent --show-error --location --retry 3 --proto '=https,file' \
    --output "$bin.download" "$url"
  actual="$(sha256_of "$bin.download")"
  if [ "$actual" != "$expected" ]; then
    rm -f "$bin.download"
    echo "::error title=tollgate::checksum mismatch for $version/$asset: expected $expected, got $actual. Refusing to run it."
    exit 2
  fi
  chmod +x "$bin.download"
  mv "$bin.download" "$bin"
  echo "tollgate: $version/$asset verified (sha256 $actual)"
fi
emit path "$bin"
emit source release
