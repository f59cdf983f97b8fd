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

"$(dirname "$0")/apt_install.sh" pgbouncer || fail "/usr/sbin/pgbouncer is missing and could not be installed."
# The package's own service is not wanted: Carebook starts PgBouncer with its own config.
if command -v systemctl >/dev/null 2>&1; then
    sudo=(); [[ "$(id -u)" -eq 0 ]] || sudo=(sudo -n)
    "${sudo[@]}" systemctl disable --now pgbouncer >/dev/null 2>&1 || true
fi

/usr/sbin/pgbouncer --version >&2 || fail "pgbouncer was installed but 'pgbouncer --version' failed."
echo /usr/sbin/pgbouncer
