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

"$(dirname "$0")/apt_install.sh" chromium || fail "/usr/bin/chromium is missing and could not be installed."

version="$(/usr/bin/chromium --version 2>/dev/null)" || fail "chromium was installed but 'chromium --version' failed."
echo "ensure_chromium: $version" >&2
