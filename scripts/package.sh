#!/usr/bin/env bash
# Builds the Debian package: the release site and binary (cargo-leptos), then the .deb
# (cargo-deb, from [package.metadata.deb] in server/Cargo.toml and packaging/debian/).
# Prints the package's path last. Install it with `sudo dpkg -i <path>` (or `apt install ./<path>`
# to pull in its dependencies); see the README's "Install on a server".
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/install-tools.sh >&2
echo "==> building the release site and binary" >&2
cargo leptos build --release >&2
echo "==> building the Debian package" >&2
# The binary is cargo-leptos's (the server with the site it serves); cargo-deb only packs it.
cargo deb -p server --no-build --quiet
