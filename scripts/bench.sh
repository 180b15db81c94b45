#!/usr/bin/env bash
# Runs the benchmarks (bench/) and writes BENCHMARKS.md. Arguments go to the benchmark, e.g.
#   scripts/bench.sh --dossiers 20000 --page-dossiers 100000
# (`cargo run --release -p bench -- --help` lists them). Needs only what scripts/test.sh needs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/install-tools.sh
ensure_postgres

# P7 runs as deployed: the Subscribers' databases on a PostgreSQL server of their own (a second
# cluster on this machine, made once), each side pinned to a core of its own by the benchmark.
SUBSCRIBER_PORT=5433
version=$(ls /etc/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk '{print $2}' | grep -qx bench; then
  echo "==> creating the PostgreSQL cluster \"bench\" (port $SUBSCRIBER_PORT) for P7's Subscribers"
  pg_createcluster "$version" bench --port "$SUBSCRIBER_PORT" -- --auth=trust >/dev/null
fi
if ! pg_isready -q -h "$PGHOST" -p "$SUBSCRIBER_PORT"; then
  pg_ctlcluster --skip-systemctl-redirect "$version" bench start
  for _ in $(seq 1 30); do pg_isready -q -h "$PGHOST" -p "$SUBSCRIBER_PORT" && break; sleep 1; done
fi
export PG_SUBSCRIBER_BASE_URL="${PG_SUBSCRIBER_BASE_URL:-postgres://postgres@$PGHOST:$SUBSCRIBER_PORT}"
# The release build users get: the server binary, and the site whose WASM bundle P6 weighs.
# P13 analyses the demo video at 1080p too.
scripts/demo-video.sh --size 1920x1080
cargo leptos build --release
cargo build --release -p bench
exec target/release/bench "$@"
