#!/usr/bin/env bash
# Runs the benchmarks (bench/) and writes BENCHMARKS.md. Arguments go to the benchmark, e.g.
#   scripts/bench.sh --dossiers 20000 --page-dossiers 100000
# (`cargo run --release -p bench -- --help` lists them). Needs only what scripts/test.sh needs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/install-tools.sh
ensure_postgres
# The release build users get: the server binary, and the site whose WASM bundle P6 weighs.
cargo leptos build --release
cargo build --release -p bench
exec target/release/bench "$@"
