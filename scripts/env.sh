# Sourced by the scripts: puts the project's tools first on PATH and names the PostgreSQL
# server. wasm-opt must come from npm's binaryen (Debian's older one breaks hydration).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$root/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
export PG_BASE_URL="${PG_BASE_URL:-postgres://$PGUSER@$PGHOST:$PGPORT}"
# The SQL checked at compile time is read from engine/.sqlx, never from a live database:
# DATABASE_URL names the tests' server, whose databases are not this schema.
export SQLX_OFFLINE=true

# Starts the machine's PostgreSQL cluster if it is not answering; on a Debian machine without
# PostgreSQL, installs Debian's package first and lets local TCP connections in without a
# password (a development machine: the cluster listens on 127.0.0.1 only).
ensure_postgres() {
  if command -v pg_isready >/dev/null && pg_isready -q -h "$PGHOST" -p "$PGPORT"; then return; fi
  if [ ! -d /etc/postgresql ] || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    echo "==> installing Debian's PostgreSQL (once per machine)"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    local hba
    hba=$(ls /etc/postgresql/*/main/pg_hba.conf | sort -V | tail -n 1)
    $sudo sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
  fi
  echo "==> starting PostgreSQL"
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 30); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && return; sleep 1; done
  echo "PostgreSQL did not start on $PGHOST:$PGPORT" >&2
  exit 1
}

# Drops and creates a database (for tests and demos only).
fresh_database() {
  psql -q -d postgres -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" -c "CREATE DATABASE \"$1\""
}
