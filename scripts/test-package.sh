#!/usr/bin/env bash
# The Debian package, installed as an operator installs it: builds it, checks its unit file
# (systemd-analyze verify), installs it with dpkg, configures /etc/dossier/dossier.toml for a
# fresh database, runs the seed's steps (`dossier migrate`, `dossier create-groups`, plus an
# administrator), starts the unit's ExecStart as its service user (this machine has no running
# systemd), and checks /healthz, /api-docs, a login and one replication from the installed server (the
# Leader) to a second instance built from the checkout. Then reinstalling keeps the edited
# settings, removing leaves the database, and purging removes the files and the account.
# Needs root (dpkg), as the test command runs here; otherwise it asks sudo.
set -euo pipefail
[ "$(id -u)" = 0 ] || exec sudo -E "$0" "$@"
cd "$(dirname "$0")/.."
source scripts/env.sh
ensure_postgres

fail() { echo "package test: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

deb=$(scripts/package.sh | tail -n 1)
[ -f "$deb" ] || fail "scripts/package.sh did not print a package path (got '$deb')"
echo "==> package $deb"

# A package left by an interrupted run goes first, with its files.
if dpkg -s dossier >/dev/null 2>&1; then dpkg --purge dossier >/dev/null; fi

leader_db=dossier_package_leader subscriber_db=dossier_package_subscriber
fresh_database "$leader_db"
fresh_database "$subscriber_db"
leader_port=$(free_port) subscriber_port=$(free_port)
leader="http://127.0.0.1:$leader_port" subscriber="http://127.0.0.1:$subscriber_port"
token="package-test-sync-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
password="package-test-password"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if dpkg -s dossier >/dev/null 2>&1; then dpkg --purge dossier >/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> installing"
dpkg -i "$deb" >/dev/null
unit=$(dpkg -L dossier | grep -E '/systemd/system/dossier\.service$') || fail "no dossier.service installed"
systemd-analyze verify "$unit" || fail "systemd-analyze verify finds fault with $unit"
[ -x /usr/bin/dossier ] || fail "/usr/bin/dossier is not installed"
[ -f /usr/share/dossier/site/pkg/dossier.wasm ] || fail "the site is not in /usr/share/dossier/site"
[ -f /usr/share/dossier/face-models/dlib_face_recognition_resnet_model_v1.dat ] || fail "no face models"
getent passwd dossier >/dev/null || fail "the service account dossier was not created"
[ "$(stat -c '%U:%G %a' /etc/dossier/dossier.toml)" = "root:dossier 640" ] \
  || fail "/etc/dossier/dossier.toml is $(stat -c '%U:%G %a' /etc/dossier/dossier.toml), not root:dossier 640"
pgrep -f '^/usr/bin/dossier' >/dev/null && fail "installing started the service before it was configured"

echo "==> configuring /etc/dossier/dossier.toml and running the seed's steps"
set_setting() { sed -i -E "s|^$1 = .*|$1 = \"$2\"|" /etc/dossier/dossier.toml; }
set_setting DATABASE_URL "$PG_BASE_URL/$leader_db"
set_setting LISTEN_ADDRESS "127.0.0.1:$leader_port"
set_setting EXTERNAL_ADDRESS "$leader"
set_setting SYNC_TOKEN "$token"
# The commands find /etc/dossier/dossier.toml themselves, as the seed's steps assume: run
# from / with nothing of this shell's environment.
installed() { (cd / && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"); }
installed dossier migrate
installed dossier create-groups
installed DOSSIER_PASSWORD="$password" dossier create-user --username admin --group Administrator >/dev/null

# What systemd would run: the unit's user, working directory and ExecStart.
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
service_user=$(sed -n 's/^User=//p' "$unit")
directory=$(sed -n 's/^WorkingDirectory=//p' "$unit")
[ -n "$exec_start" ] && [ "$service_user" = dossier ] || fail "the unit has no ExecStart or User=dossier"
(cd "$directory" && exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin runuser -u "$service_user" -- $exec_start) \
  > "$work/leader.log" 2>&1 &
pids+=($!)

# The second instance, from the checkout: a Subscriber of the installed Leader.
bin=target/release/dossier
export -n DATABASE_URL
sub_env=(env DATABASE_URL="$PG_BASE_URL/$subscriber_db" LISTEN_ADDRESS="127.0.0.1:$subscriber_port"
  EXTERNAL_ADDRESS="$subscriber" SYNC_TOKEN="$token" LEPTOS_SITE_ROOT=target/site)
"${sub_env[@]}" "$bin" migrate >/dev/null
"${sub_env[@]}" "$bin" create-groups >/dev/null
"${sub_env[@]}" DOSSIER_PASSWORD="$password" "$bin" create-user --username admin --group Administrator >/dev/null
"${sub_env[@]}" "$bin" serve > "$work/subscriber.log" 2>&1 &
pids+=($!)

for url in "$leader" "$subscriber"; do
  for attempt in $(seq 1 60); do
    curl -fsS "$url/healthz" >/dev/null 2>&1 && break
    if [ "$attempt" = 60 ]; then
      cat "$work/leader.log" "$work/subscriber.log" >&2
      fail "$url/healthz does not answer"
    fi
    sleep 1
  done
done
echo "==> the installed server answers /healthz"
ps -o user= -p "$(pgrep -f "^/usr/bin/dossier serve" | head -n 1)" | grep -qx dossier \
  || fail "the installed server does not run as the dossier account"

# The API reference, as an integrator finds it on the installed server: the page lists the
# server functions and the replication routes, and the document is OpenAPI.
reference=$(curl -fsS "$leader/api-docs") || fail "$leader/api-docs does not answer"
for endpoint in "POST /api/dossiers/create" "GET /sync/leader/info" "POST /api/events/faces"; do
  grep -qF "$endpoint" <<<"$reference" || fail "/api-docs does not list $endpoint"
done
document=$(curl -fsS "$leader/api-docs/openapi.json") || fail "$leader/api-docs/openapi.json does not answer"
grep -q '"openapi": "3.1' <<<"$document" || fail "/api-docs/openapi.json is not an OpenAPI 3.1 document"
echo "==> the installed server serves its API reference at /api-docs"

J='Content-Type: application/json'
login() { # base URL, cookie jar
  curl -fsS -c "$2" -H "$J" -d "{\"username\":\"admin\",\"password\":\"$password\"}" "$1/api/auth/login" >/dev/null \
    || fail "cannot log in to $1"
}
call() { # base URL, cookie jar, endpoint, JSON body
  curl -fsS -b "$2" -H "$J" -d "$4" "$1/api/$3" || fail "$1/api/$3 failed"
}
login "$leader" "$work/leader.jar"
echo "==> logged in to the installed server"
list=$(call "$leader" "$work/leader.jar" watch-lists/create '{"name":"Wanted","color":"#d62728","active":true}' | jq .id)
for name in "Ivan Petrov" "Anna Smirnova"; do
  call "$leader" "$work/leader.jar" dossiers/create "{\"name\":\"$name\",\"active\":true,\"watch_lists\":[$list]}" >/dev/null
done

login "$subscriber" "$work/subscriber.jar"
local_list=$(call "$subscriber" "$work/subscriber.jar" watch-lists/create '{"name":"Wanted (replica)","color":"#1f77b4","active":true}' | jq .id)
replica=$(curl -fsS -b "$work/subscriber.jar" -H "$J" \
  -d "{\"remote_dossier_list\": $list, \"remote_url\": \"$leader\", \"slave_dossier_list\": $local_list}" \
  "$subscriber/sync/dossier-lists/" | jq .id) || fail "the Subscriber refused the replica"
curl -fsS -X POST -b "$work/subscriber.jar" "$subscriber/sync/dossier-lists/$replica/sync/" >/dev/null || true
for attempt in $(seq 1 60); do
  state=$(curl -fsS -b "$work/subscriber.jar" "$subscriber/sync/dossier-lists/$replica/")
  [ "$(echo "$state" | jq -r '.last_success_at != null and .state == "idle"')" = true ] && break
  [ "$attempt" = 60 ] && fail "the replica did not sync: $state"
  sleep 1
done
replicated=$(psql -qtA -d "$subscriber_db" -c \
  "SELECT string_agg(d.name, ', ' ORDER BY d.name) FROM dossiers d JOIN dossier_watch_lists m ON m.dossier_id = d.id WHERE m.watch_list_id = $local_list")
[ "$replicated" = "Anna Smirnova, Ivan Petrov" ] || fail "the replica holds '$replicated', not the Leader's two dossiers"
echo "==> the Subscriber replicated the installed Leader's list: $replicated"

kill "${pids[@]}" 2>/dev/null || true
wait "${pids[@]}" 2>/dev/null || true
pids=()

echo "==> reinstalling (an upgrade) keeps the edited settings"
dpkg -i "$deb" >/dev/null
grep -q "^SYNC_TOKEN = \"$token\"" /etc/dossier/dossier.toml || fail "reinstalling replaced the edited settings"

echo "==> removing and purging leave the database"
dpkg -r dossier >/dev/null
[ -f /etc/dossier/dossier.toml ] || fail "removing (not purging) deleted the settings"
[ ! -e /usr/bin/dossier ] || fail "removing left /usr/bin/dossier"
dpkg --purge dossier >/dev/null
[ ! -e /etc/dossier ] || fail "purging left /etc/dossier"
getent passwd dossier >/dev/null && fail "purging left the dossier account"
[ "$(psql -qtA -d "$leader_db" -c 'SELECT count(*) FROM dossiers')" = 2 ] \
  || fail "the Leader's database lost its dossiers when the package was purged"
echo "==> package test passed"
