#!/usr/bin/env bash
# The engine's SQL is checked against the schema at compile time (`sqlx::query!`). Builds read
# the checked queries from `engine/.sqlx` (SQLX_OFFLINE, set in env.sh), so they need no
# database. After changing a query or a migration, run this to refresh `engine/.sqlx`; with
# `--check` (as the test command does) it only verifies that `engine/.sqlx` matches the code
# and the migrations. Either way it works on a fresh database migrated from `migrations/`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
ensure_postgres

database=dossier_sqlx_prepare
fresh_database "$database"
export DATABASE_URL="$PG_BASE_URL/$database"
sqlx migrate run --source migrations >/dev/null
cd engine
SQLX_OFFLINE=false cargo sqlx prepare "$@"
