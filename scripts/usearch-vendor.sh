#!/usr/bin/env bash
# vendor/usearch is usearch 2.26.6 from crates.io with the patches in vendor/usearch-patches/
# applied in order, and nothing else (vendor/usearch-patches/README.md says what each buys).
# This script re-creates it from the published crate (fetched once into target/, checked
# against its SHA-256 in the crates.io index); with --check (as the test command runs it) it
# only verifies that the committed copy is exactly that, and fails saying what differs.
set -euo pipefail
cd "$(dirname "$0")/.."

version=2.26.6
sha256=b0b5eeb9d30a9be03057a1fa6b0096b6d02a42169fb300e096501aa48ee03ce5
crate="target/usearch-$version.crate"

mkdir -p target
if ! echo "$sha256  $crate" | sha256sum --check --status 2>/dev/null; then
  curl --fail --silent --show-error --location --retry 3 -o "$crate.part" \
    "https://static.crates.io/crates/usearch/usearch-$version.crate"
  mv "$crate.part" "$crate"
fi
if ! echo "$sha256  $crate" | sha256sum --check --status; then
  echo "usearch-vendor: $crate is not the published usearch $version (SHA-256 differs)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$crate" -C "$work"
made="$work/usearch-$version"
# What cargo adds to a package, not the crate's sources.
rm -f "$made/.cargo_vcs_info.json" "$made/.cargo-ok" "$made/Cargo.lock"
for patch in vendor/usearch-patches/*.patch; do
  if ! patch --quiet --no-backup-if-mismatch --directory "$made" -p1 --forward < "$patch"; then
    echo "usearch-vendor: $patch does not apply to usearch $version" >&2
    exit 1
  fi
done

if [ "${1:-}" = "--check" ]; then
  if ! diff -r "$made" vendor/usearch; then
    echo "usearch-vendor: vendor/usearch is not usearch $version with vendor/usearch-patches applied; run scripts/usearch-vendor.sh to re-create it" >&2
    exit 1
  fi
  echo "vendor/usearch is usearch $version with $(ls vendor/usearch-patches/*.patch | wc -l) patches, nothing else"
else
  rm -rf vendor/usearch
  cp -r "$made" vendor/usearch
  echo "vendor/usearch re-created: usearch $version with $(ls vendor/usearch-patches/*.patch | wc -l) patches"
fi
