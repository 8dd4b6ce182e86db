#!/usr/bin/env bash
# Runs every benchmark; each prints its figures and a ratio against a baseline
# measured in the same run (the machines are shared and noisy).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${VENV:-.venv}/bin/python
if ! command -v wrk >/dev/null && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
echo "== point-in-grid engine vs geopandas.sjoin (issue: engine)"
"$PY" -m benchmarks.bench_engine
echo "== cityaware locate on whole files vs geopandas read + sjoin + write (process start included)"
"$PY" -m benchmarks.bench_files
echo "== feature store bulk import and single writes"
"$PY" -m benchmarks.bench_store ${CITYAWARE_BENCH_DATABASE_URL:+--postgis-url "$CITYAWARE_BENCH_DATABASE_URL"}
echo "== geocoder evaluation (held-out addresses)"
"$PY" -m benchmarks.eval_geocoder
echo "== map-wall tiles"
"$PY" -m benchmarks.bench_tiles
echo "== map-wall page in headless Chromium (full demo city)"
"$PY" -m benchmarks.bench_map_page
echo "== OGC exports: memory while streaming"
"$PY" -m benchmarks.bench_ogc_exports
echo "== service API load test (loopback)"
"$PY" -m benchmarks.bench_service
echo "== live city: readings with alarms, positions with fences, event latency (loopback)"
"$PY" -m benchmarks.bench_live
echo "== incident intake under load: POSTs, locate reads, 200 SSE clients, --workers 2 (60 s)"
"$PY" -m benchmarks.bench_intake
echo "== a year of incidents against the 30-day demo (builds once into ~/.cache/cityaware)"
"$PY" -m benchmarks.bench_year ${CITYAWARE_BENCH_YEAR_ARGS:-}
echo "== the kiosk at a year against the 30-day demo: interactive, live items, markers (same cache)"
"$PY" -m benchmarks.bench_kiosk_year ${CITYAWARE_BENCH_YEAR_ARGS:-}
