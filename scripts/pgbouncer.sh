#!/usr/bin/env bash
# Run a PgBouncer in transaction mode in front of a PostgreSQL server (tests, CI, local runs).
#   scripts/pgbouncer.sh start DIR PORT [UPSTREAM_HOST] [UPSTREAM_PORT]   (daemon; waits for PORT)
#   scripts/pgbouncer.sh stop DIR
# Every database of the upstream is reachable at 127.0.0.1:PORT; clients are trusted (local
# loopback only), and connect to the server as the user they name. Config, log and pid in DIR.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmd="${1:?start|stop}"; dir="${2:?DIR}"

if [[ "$cmd" == stop ]]; then
    [[ -f "$dir/pgbouncer.pid" ]] && kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true
    exit 0
fi

port="${3:?PORT}"; host="${4:-127.0.0.1}"; upstream_port="${5:-5432}"
bin="$("$root/scripts/ensure_pgbouncer.sh")"
mkdir -p "$dir"
cat >"$dir/userlist.txt" <<USERS
"postgres" ""
USERS
cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=$host port=$upstream_port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
; Sized for the test suite's parallel databases; production sizing: deploy/README.md.
default_pool_size = 20
max_client_conn = 2000
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
# PgBouncer refuses to run as root: drop to the postgres (else nobody) account.
as_user=()
if [[ "$(id -u)" -eq 0 ]]; then
    if id postgres >/dev/null 2>&1; then as_user=(-u postgres); else as_user=(-u nobody); fi
    chmod 755 "$dir"; chmod 644 "$dir"/*.ini "$dir"/userlist.txt
    touch "$dir/pgbouncer.log"; chown "${as_user[1]}" "$dir" "$dir/pgbouncer.log"
fi
"$bin" -d "${as_user[@]}" "$dir/pgbouncer.ini"
for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "pgbouncer: 127.0.0.1:$port -> $host:$upstream_port (transaction mode), files in $dir"
        exit 0
    fi
    sleep 0.1
done
echo "pgbouncer did not start; log:" >&2
cat "$dir/pgbouncer.log" >&2 || true
exit 3
