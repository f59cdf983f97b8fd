#!/usr/bin/env bash
# Make a PgBouncer binary available (tests and CI run a pass through it in transaction mode).
# Uses $CAREBOOK_PGBOUNCER_BIN if set, else Debian's /usr/sbin/pgbouncer (installed via apt if
# missing). Prints the binary's path. Exit codes: 0 ok, 3 pgbouncer unavailable.
set -euo pipefail

fail() {
    cat >&2 <<MSG
ensure_pgbouncer: $1
  Install Debian's pgbouncer package (apt-get install -y --no-install-recommends pgbouncer),
  or set CAREBOOK_PGBOUNCER_BIN=/path/to/pgbouncer.
MSG
    exit 3
}

if [[ -n "${CAREBOOK_PGBOUNCER_BIN:-}" ]]; then
    [[ -x "$CAREBOOK_PGBOUNCER_BIN" ]] || fail "CAREBOOK_PGBOUNCER_BIN=$CAREBOOK_PGBOUNCER_BIN is not executable."
    echo "$CAREBOOK_PGBOUNCER_BIN"
    exit 0
fi

if [[ -x /usr/sbin/pgbouncer ]]; then
    echo /usr/sbin/pgbouncer
    exit 0
fi

command -v apt-get >/dev/null 2>&1 || fail "/usr/sbin/pgbouncer is missing and apt-get is not available."

if [[ "$(id -u)" -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    fail "/usr/sbin/pgbouncer is missing and installing it needs root (or passwordless sudo)."
fi

echo "ensure_pgbouncer: installing Debian's pgbouncer package..." >&2
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || fail "apt-get update failed."
# The package's own service is not wanted: Carebook starts PgBouncer with its own config.
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends pgbouncer >&2 \
    || fail "apt-get install pgbouncer failed."
if command -v systemctl >/dev/null 2>&1; then
    "${SUDO[@]}" systemctl disable --now pgbouncer >/dev/null 2>&1 || true
fi

/usr/sbin/pgbouncer --version >&2 || fail "pgbouncer was installed but 'pgbouncer --version' failed."
echo /usr/sbin/pgbouncer
