#!/usr/bin/env bash
# Make a Chromium binary available for the Playwright browser tests.
# Uses $CAREBOOK_CHROMIUM if set, else Debian's /usr/bin/chromium (installed via apt if missing).
# Exit codes: 0 ok, 3 chromium unavailable.
set -euo pipefail

fail() {
    cat >&2 <<MSG
ensure_chromium: $1
  Install Debian's chromium package (apt-get install -y --no-install-recommends chromium),
  or set CAREBOOK_CHROMIUM=/path/to/chromium.
MSG
    exit 3
}

if [[ -n "${CAREBOOK_CHROMIUM:-}" ]]; then
    [[ -x "$CAREBOOK_CHROMIUM" ]] || fail "CAREBOOK_CHROMIUM=$CAREBOOK_CHROMIUM is not an executable file."
    exit 0
fi

[[ -x /usr/bin/chromium ]] && exit 0

command -v apt-get >/dev/null 2>&1 || fail "/usr/bin/chromium is missing and apt-get is not available."

if [[ "$(id -u)" -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    fail "/usr/bin/chromium is missing and installing it needs root (or passwordless sudo)."
fi

echo "ensure_chromium: installing Debian's chromium package..." >&2
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || fail "apt-get update failed."
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >&2 \
    || fail "apt-get install chromium failed."

version="$(/usr/bin/chromium --version 2>/dev/null)" || fail "chromium was installed but 'chromium --version' failed."
echo "ensure_chromium: $version" >&2
