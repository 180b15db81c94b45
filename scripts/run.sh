#!/usr/bin/env bash
# Runs the dossier database on this machine as two installations side by side: a Leader
# (http://127.0.0.1:3000, with demo data) and a Subscriber (http://127.0.0.1:3100) sharing a
# sync token, and a demo camera watched by the Subscriber (the demo video, made from the test
# photos, looped over RTSP at rtsp://127.0.0.1:8554/cam). Installs the tools it lacks, starts
# PostgreSQL if needed, builds the release site, prepares both databases (migrations, groups,
# an administrator) and serves both.
#   LEADER_PORT=3000  SUBSCRIBER_PORT=3100  DEMO_CAMERA_PORT=8554  (defaults)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/install-tools.sh
ensure_postgres

leader_port="${LEADER_PORT:-3000}"
subscriber_port="${SUBSCRIBER_PORT:-3100}"
camera_port="${DEMO_CAMERA_PORT:-8554}"

echo "==> building the release site (a few minutes the first time)"
cargo leptos build --release
bin=target/release/dossier

mkdir -p .dev
[ -s .dev/admin-password ] || head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > .dev/admin-password
[ -s .dev/sync-token ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > .dev/sync-token
export SYNC_TOKEN="$(cat .dev/sync-token)" LEPTOS_SITE_ROOT=target/site LEPTOS_ENV=PROD

# Prepares one installation's database: migrations, groups, the admin account.
prepare() {
  local db=$1
  psql -qtA -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
    || psql -q -d postgres -c "CREATE DATABASE \"$db\""
  DATABASE_URL="$PG_BASE_URL/$db" "$bin" migrate
  DATABASE_URL="$PG_BASE_URL/$db" "$bin" create-groups
  DATABASE_URL="$PG_BASE_URL/$db" DOSSIER_PASSWORD="$(cat .dev/admin-password)" \
    "$bin" create-user --username admin --group Administrator --if-missing
}
prepare dossier_leader
prepare dossier_subscriber
if [ "$(psql -qtA -d dossier_leader -c 'SELECT count(*) FROM dossiers')" = 0 ]; then
  # Generated dossiers for volume, and one with a real face (its vector computed here).
  DATABASE_URL="$PG_BASE_URL/dossier_leader" "$bin" demo-data --dossiers 500 --photos data/test-photos
fi
# An empty list on the Subscriber, ready to become a replica.
psql -q -d dossier_subscriber -c \
  "INSERT INTO watch_lists (name, color) VALUES ('Wanted (replica)', '#d62728') ON CONFLICT (name) DO NOTHING"
# The demo camera, watched by the Subscriber's own video worker.
psql -q -d dossier_subscriber -c \
  "INSERT INTO cameras (name, url) VALUES ('demo-door', 'rtsp://127.0.0.1:$camera_port/cam')
   ON CONFLICT (name) DO UPDATE SET url = EXCLUDED.url WHERE cameras.url <> EXCLUDED.url"
remote_list=$(psql -qtA -d dossier_leader -c "SELECT id FROM watch_lists WHERE name = 'Demo: wanted'")
local_list=$(psql -qtA -d dossier_subscriber -c "SELECT id FROM watch_lists WHERE name = 'Wanted (replica)'")

/usr/bin/python3 scripts/rtsp-server.py "$camera_port" data/demo-video/people.mp4 &
camera_pid=$!
# The Leader watches no camera; the Subscriber does.
DATABASE_URL="$PG_BASE_URL/dossier_leader" LISTEN_ADDRESS="127.0.0.1:$leader_port" VIDEO_WORKER_CAMERAS=0 \
  EXTERNAL_ADDRESS="http://127.0.0.1:$leader_port" SITE_NAME="Leader" "$bin" serve &
leader_pid=$!
DATABASE_URL="$PG_BASE_URL/dossier_subscriber" LISTEN_ADDRESS="127.0.0.1:$subscriber_port" \
  EXTERNAL_ADDRESS="http://127.0.0.1:$subscriber_port" SITE_NAME="Subscriber" "$bin" serve &
subscriber_pid=$!
trap 'kill $leader_pid $subscriber_pid $camera_pid 2>/dev/null || true' EXIT

# "Ready" only once both installations answer (their /healthz checks the database too).
for port in "$leader_port" "$subscriber_port"; do
  for attempt in $(seq 1 60); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    if [ "$attempt" = 60 ]; then
      echo "the installation on port $port does not answer; see the log above" >&2
      exit 1
    fi
    sleep 1
  done
done

cat <<MSG

  Ready.

  Leader:      http://127.0.0.1:$leader_port/
  Subscriber:  http://127.0.0.1:$subscriber_port/
  Log in to either as admin with the password $(cat .dev/admin-password)
  (kept in .dev/admin-password; the shared SYNC_TOKEN is in .dev/sync-token)

  Faces: add data/test-photos/obama.jpg to a dossier (the server finds the face and computes
  its vector), then "Search by photo" with obama2.jpg or obama3.jpg: it finds that dossier.
  The demo dossier "Joe Biden" has a real face too (data/test-photos/biden.jpg).

  Replicate the Leader's "Demo: wanted" list into the Subscriber's empty "Wanted (replica)":
  on the Subscriber's Replication page, or with the seed's request (an API token of the
  Subscriber's admin from its Users page):

    curl -H "Authorization: Token <token>" -H 'Content-Type: application/json' \\
      -d '{"remote_dossier_list": $remote_list, "remote_url": "http://127.0.0.1:$leader_port", "slave_dossier_list": $local_list}' \\
      http://127.0.0.1:$subscriber_port/sync/dossier-lists/

  Cameras: the Subscriber watches the demo camera "demo-door" (its Cameras page shows its
  status and latest frame): every 30 s Obama passes twice and Biden once, and each makes one
  event on its Events page; once the list above is replicated, Biden's is a match.

  Monitoring: a camera that sends photos itself posts them to the Subscriber (a token of a user
  in the Camera group, or the admin's):

    curl -H "Authorization: Token <token>" -F camera=gate-1 \\
      -F image=@data/test-photos/biden.jpg http://127.0.0.1:$subscriber_port/api/events/faces

MSG
# Until Ctrl-C, or until either installation stops.
wait -n "$leader_pid" "$subscriber_pid" "$camera_pid"
