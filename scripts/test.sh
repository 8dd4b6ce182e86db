#!/usr/bin/env bash
# Runs the whole test suite: installs the system packages the tests use
# (PostGIS, Chromium, GDAL's command-line tools) when missing and we are root,
# starts a throwaway PostgreSQL/PostGIS cluster, runs pytest, tears it down.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PG_VERSION_DIR=$(ls -d /usr/lib/postgresql/*/ 2>/dev/null | sort -V | tail -n 1 || true)

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v ogr2ogr >/dev/null || need+=(gdal-bin)
/usr/bin/python3 -c "import qgis.core" 2>/dev/null || need+=(python3-qgis)  # QGIS 3.22 interop tests
if [ -z "$PG_VERSION_DIR" ] || ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
  need+=(postgresql postgresql-postgis)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing system packages: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "warning: missing ${need[*]} and not root; the tests that need them will skip (or fail when CI=true)"
  fi
fi

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
PGDIR=""
cleanup() {
  if [ -n "$PGDIR" ]; then
    if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D $PGDIR/data -m immediate stop" >/dev/null 2>&1 || true
    else "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true; fi
    rm -rf "$PGDIR"
  fi
}
trap cleanup EXIT

if [ -n "$PG_BIN" ] && [ -z "${CITYAWARE_TEST_DATABASE_URL:-}" ]; then
  PGDIR=$(mktemp -d /tmp/cityaware-pg.XXXXXX)
  PGPORT=${PGPORT:-$((54000 + RANDOM % 1000))}
  run_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
  [ "$(id -u)" = 0 ] && chown postgres "$PGDIR"
  run_pg "$PG_BIN/initdb -D $PGDIR/data -U postgres -A trust --no-sync" >/dev/null
  run_pg "$PG_BIN/pg_ctl -D $PGDIR/data -l $PGDIR/log -w -o \"-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" start" >/dev/null
  run_pg "$PG_BIN/createdb -h 127.0.0.1 -p $PGPORT -U postgres cityaware_test"
  run_pg "$PG_BIN/psql -q -h 127.0.0.1 -p $PGPORT -U postgres -d cityaware_test -c 'CREATE EXTENSION IF NOT EXISTS postgis'"
  export CITYAWARE_TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$PGPORT/cityaware_test"
  echo "throwaway PostGIS on port $PGPORT"
fi

"$VENV/bin/python" -m pytest -n 2 --dist loadgroup "$@"
