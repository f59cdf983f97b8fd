#!/usr/bin/env bash
# Fetch axe-core's axe.min.js from the npm registry into tests/e2e/vendor/ (git-ignored).
# Exit codes: 0 ok, 3 npm missing or download failed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/tests/e2e/vendor/axe.min.js"
spec="${CAREBOOK_AXE_SPEC:-axe-core@4}"

[[ -s "$dest" ]] && exit 0

fail() {
    echo "ensure_axe: $1" >&2
    echo "  Install npm (e.g. apt-get install -y npm) and rerun, or place axe.min.js at $dest." >&2
    exit 3
}

command -v npm >/dev/null 2>&1 || fail "npm is not installed."

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

tarball="$(cd "$tmp" && npm pack --silent "$spec" 2>/dev/null | tail -n 1)" || fail "npm pack $spec failed."
tar -xzf "$tmp/$tarball" -C "$tmp" package/axe.min.js package/package.json \
    || fail "could not extract axe.min.js from $tarball."

mkdir -p "$(dirname "$dest")"
cp "$tmp/package/axe.min.js" "$dest.part"
mv "$dest.part" "$dest"
version="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$tmp/package/package.json")"
echo "ensure_axe: installed axe-core ${version:-?} at $dest" >&2
