#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests against a real PostgreSQL (a fresh database
# per test; the cameras' against real RTSP streams of the demo video), the Debian package
# installed and run, then the Playwright browser tests against a real server in Debian's
# Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/install-tools.sh
ensure_postgres

echo "==> vendor/usearch is the published crate with our patches, nothing else"
scripts/usearch-vendor.sh --check
echo "==> no module of any crate imports back up into one that imports it"
python3 scripts/module-cycles.py

# #[sqlx::test] creates (and drops) one database per test on this server.
export DATABASE_URL="$PG_BASE_URL/postgres"
echo "==> Rust tests"
# Per package: a workspace-wide run would unify the ssr and hydrate features.
cargo test -p domain
cargo test -p engine
cargo test -p face-engine
cargo test --release -p face-index
cargo test -p app --features ssr
cargo test -p server

echo "==> the SQL checked at compile time (engine/.sqlx) matches the code and the migrations"
scripts/sqlx-prepare.sh --check

port="${E2E_PORT:-3917}"
export LEPTOS_SITE_ADDR="127.0.0.1:$port"
# The release build, as scripts/run.sh serves it: what the browser tests pass on is what users get.
cargo leptos build --release

echo "==> the Debian package, installed and run as an operator would"
scripts/test-package.sh

# The benchmark at tiny sizes, so that it keeps working: it checks every replica against the
# Leader but asserts no timing (scripts/bench.sh runs it at full size).
echo "==> benchmark smoke run"
cargo build --release -p bench
target/release/bench --dossiers 300 --small 100 --changes 20 --page-dossiers 3000 \
  --page-requests 200 --connections 8 --subscribers 2 --face-rounds 2 --backfill-photos 20 \
  --index-faces 5000 --index-queries 200 --exact-queries 50 --monitor-dossiers 300 \
  --ingest-events 200 --ingest-photos 4 --events 20000 --event-days 3 \
  --video-sizes 1280x720 --cameras 1 --camera-seconds 35 --hits-seconds 4 \
  --fleet-sites 3 --fleet-seconds 3 --archive-events 100000 --archive-days 3 \
  --archive-queries 50 --archive-exact-queries 5 --import-rows 2000 --import-photos 10 \
  --db-prefix bench_smoke \
  --out target/bench-smoke.md

echo "==> browser tests"
fresh_database dossier_e2e
export DATABASE_URL="$PG_BASE_URL/dossier_e2e"
bin=target/release/dossier
"$bin" migrate
"$bin" create-groups
for who in admin:Administrator operator:Operator viewer:User; do
  DOSSIER_PASSWORD=e2e-password "$bin" create-user --username "${who%%:*}" --group "${who##*:}"
done

# A Leader beside the server under test (which plays the Subscriber), for the replication flows;
# the specs seed both through the API, each its own data.
export SYNC_TOKEN="e2e-sync-token-0123456789"
export LEADER_ADDR="127.0.0.1:${E2E_LEADER_PORT:-3918}"
fresh_database dossier_e2e_leader
DATABASE_URL="$PG_BASE_URL/dossier_e2e_leader" "$bin" migrate
DATABASE_URL="$PG_BASE_URL/dossier_e2e_leader" "$bin" create-groups
DATABASE_URL="$PG_BASE_URL/dossier_e2e_leader" DOSSIER_PASSWORD=e2e-password \
  "$bin" create-user --username admin --group Administrator
DATABASE_URL="$PG_BASE_URL/dossier_e2e_leader" LISTEN_ADDRESS="$LEADER_ADDR" "$bin" serve \
  > target/e2e-leader.log 2>&1 &
leader_pid=$!
trap 'kill $leader_pid 2>/dev/null || true' EXIT

cargo leptos end-to-end --release
