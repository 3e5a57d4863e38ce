#!/usr/bin/env bash
# The steps of the composite GitHub Action (action.yml at the repository root), as one script,
# so that CI (which has no GitHub runner) runs exactly what the Action runs.
#
# Inputs, as environment variables (the Action maps its `with:` inputs to these):
#   INPUT_CMD      the server's command line, with {port} (required)
#   INPUT_CLAIMS   its claims (default: stream,forever,sequential)
#   INPUT_ARGS     more `echo-conform run` flags, split on whitespace
#   INPUT_JUNIT    where the JUnit report goes (default: echo-conform-junit.xml)
#   INPUT_REPORTS  where every report format goes (default: echo-conform-report)
#   INPUT_VERSION  a release tag to download the static binary from
#   INPUT_REPOSITORY  owner/name of the releases (default: derived from the action's own path)
#   INPUT_BIN_DIR  a directory that already holds echo-conform (CI passes target/dist/...)
# The binary comes from INPUT_BIN_DIR, else the release INPUT_VERSION (checked against its
# .sha256), else a build from source with `cargo xtask dist` when cargo is there.
# Exit code: echo-conform's own (0 conformant, 1 a claimed MUST failed, 2 usage, 3 server, ...).
set -euo pipefail

: "${INPUT_CMD:?the input cmd is required: the server command line, with {port}}"
claims=${INPUT_CLAIMS:-stream,forever,sequential}
junit=${INPUT_JUNIT:-echo-conform-junit.xml}
reports=${INPUT_REPORTS:-echo-conform-report}
here="$(cd "$(dirname "$0")/.." && pwd)"

bin_dir=${INPUT_BIN_DIR:-}
if [ -z "$bin_dir" ] && [ -n "${INPUT_VERSION:-}" ]; then
    repo=${INPUT_REPOSITORY:-}
    if [ -z "$repo" ] && [ -n "${GITHUB_ACTION_PATH:-}" ]; then
        # A composite action's steps see no github.action_repository; its checkout lives at
        # .../_actions/OWNER/NAME/REF, which names it.
        ref_dir=$(dirname "$GITHUB_ACTION_PATH/.")
        repo="$(basename "$(dirname "$(dirname "$ref_dir")")")/$(basename "$(dirname "$ref_dir")")"
    fi
    : "${repo:?give the input repository (owner/name) to download a release}"
    url="https://github.com/$repo/releases/download/$INPUT_VERSION"
    tmp=$(mktemp -d)
    name=""
    # `cargo xtask dist` names its output after the target it built: musl where it could, else gnu.
    for triple in x86_64-unknown-linux-musl x86_64-unknown-linux-gnu; do
        candidate="echo-conform-${INPUT_VERSION#v}-$triple"
        if curl -fsSL -o "$tmp/$candidate.tar.gz" "$url/$candidate.tar.gz"; then
            name=$candidate
            break
        fi
    done
    [ -n "$name" ] || { echo "echo-conform action: no release asset for $INPUT_VERSION at $url" >&2; exit 2; }
    echo "echo-conform action: downloaded $url/$name.tar.gz"
    curl -fsSL -o "$tmp/$name.tar.gz.sha256" "$url/$name.tar.gz.sha256"
    (cd "$tmp" && sha256sum -c "$name.tar.gz.sha256")
    tar -C "$tmp" -xzf "$tmp/$name.tar.gz"
    (cd "$tmp/$name" && sha256sum -c SHA256SUMS)
    bin_dir="$tmp/$name"
elif [ -z "$bin_dir" ]; then
    if ! command -v cargo >/dev/null 2>&1; then
        echo "echo-conform action: give the input version (a release to download) or install a Rust toolchain" >&2
        exit 2
    fi
    echo "echo-conform action: building the static binaries with cargo xtask dist"
    (cd "$here" && cargo xtask dist)
    bin_dir=$(cat "${CARGO_TARGET_DIR:-$here/target}/dist/LATEST")
fi
runner="$bin_dir/echo-conform"
[ -x "$runner" ] || { echo "echo-conform action: no echo-conform in $bin_dir" >&2; exit 2; }
"$runner" --version

read -r -a extra <<< "${INPUT_ARGS:-}"
mkdir -p "$reports"
set +e
"$runner" run --cmd "$INPUT_CMD" --claims "$claims" "${extra[@]}" --report-dir "$reports"
code=$?
set -e
if [ -f "$reports/junit.xml" ]; then
    cp "$reports/junit.xml" "$junit"
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
    { echo "exit-code=$code"; echo "junit=$junit"; echo "reports=$reports"; } >> "$GITHUB_OUTPUT"
fi
echo "echo-conform action: exit $code; JUnit report: $junit; all reports: $reports/"
exit "$code"
