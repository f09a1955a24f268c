#!/usr/bin/env bash
# The JPKI service's rule and status tests, the TSMs' end-to-end phone
# flows (all but the long interruption sweep, which exercises the relay, not
# the store), and the remote signing service's SAD and life-cycle tests,
# against PostgreSQL instead of SQLite: a throw-away cluster
# (initdb, trust auth, loopback only, a free port), each test with databases
# of its own (JPKI_TEST_POSTGRES names the server).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "postgres.sh: PostgreSQL server binaries not found (install postgresql)" >&2; exit 2; }
work=$(mktemp -d)
chmod 755 "$work"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$work"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg "$bin/initdb" -D "$work/data" -A trust -U postgres >/dev/null
as_pg "$bin/pg_ctl" -D "$work/data" -l "$work/log" -w \
  -o "-p $port -k $work -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
trap 'as_pg "$bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
export JPKI_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port"
cargo nextest run --no-fail-fast -p jlis --test service
cargo nextest run --no-fail-fast -p openjpki-tests --test cross -E 'test(/^phone_flow::/) - test(disconnecting)'
cargo nextest run --no-fail-fast -p openjpki-tests --test rssp -E 'test(/^sad::|^lifecycle::/)'
