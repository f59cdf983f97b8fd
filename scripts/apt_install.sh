#!/usr/bin/env bash
# Install Debian packages for the ensure_*.sh scripts: apt-get as root, or with passwordless
# sudo. Usage: scripts/apt_install.sh PACKAGE... Exit codes: 0 installed, 3 could not (the
# reason on stderr).
set -euo pipefail

fail() {
    echo "apt_install: $1" >&2
    exit 3
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get is not available."
if [[ "$(id -u)" -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    fail "installing $* needs root (or passwordless sudo)."
fi

echo "apt_install: installing Debian's $*..." >&2
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || fail "apt-get update failed."
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2 \
    || fail "apt-get install $* failed."
