#!/usr/bin/env bash
# Make the plpgsql_check extension available on the PostgreSQL server at $1 (a URL; default
# $DATABASE_URL), so that tests/carebook/test_plpgsql_check.py can check every shared
# PL/pgSQL body against a clinic schema (PostgreSQL itself checks only their syntax). For a
# Debian cluster (the machine's PostgreSQL) it installs postgresql-<major>-plpgsql-check via
# apt when missing. Exit codes: 0 available, 3 not available (with the reason on stderr).
set -euo pipefail
url="${1:-${DATABASE_URL:-}}"
[[ -n "$url" ]] || { echo "ensure_plpgsql_check: no server URL given" >&2; exit 3; }

fail() {
    echo "ensure_plpgsql_check: $1" >&2
    echo "  Install the extension for this server (Debian: apt-get install postgresql-<major>-plpgsql-check)." >&2
    exit 3
}

query() { psql "$url" -XAtqc "$1"; }
available() { [[ "$(query "SELECT count(*) FROM pg_available_extensions WHERE name = 'plpgsql_check'")" == 1 ]]; }
command -v psql >/dev/null 2>&1 || fail "psql is not on PATH."
query "SELECT 1" >/dev/null || fail "cannot connect to $url."
available && exit 0

major=$(query "SELECT current_setting('server_version_num')::int / 10000")
package="postgresql-$major-plpgsql-check"
[[ -d "/usr/lib/postgresql/$major" ]] || fail "the server is not a Debian PostgreSQL $major of this machine."
"$(dirname "$0")/apt_install.sh" "$package" || fail "$package is missing and could not be installed."
available || fail "$package was installed but the server does not list plpgsql_check."
