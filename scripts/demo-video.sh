#!/usr/bin/env bash
# Makes the demo camera's video from the test photos (scripts/face-data.sh), only when missing:
# data/demo-video/people.mp4, 30 s of a grey scene in which Obama passes (1-4 s), is gone, comes
# back (9-12 s, another photo), and Biden passes (17-20 s); and empty.mp4, 10 s of the scene with
# nobody. H.264 at 10 frames a second, a key frame every second (a client that joins waits a
# second at most). `--size 1920x1080` makes people-1920x1080.mp4 too, for the benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=data/demo-video photos=data/test-photos
sizes=("1280x720")
if [ "${1:-}" = "--size" ]; then sizes+=("$2"); fi
mkdir -p "$dir"

# clip OUT WIDTHxHEIGHT SECONDS [with people]
clip() {
  local out=$1 size=$2 seconds=$3 people=${4:-}
  [ -s "$out" ] && return
  local w=${size%x*} h=${size#*x}
  local side=$((h * 11 / 18)) top=$((h * 7 / 36))
  local inputs=() filter="[0]null[v0]"
  if [ -n "$people" ]; then
    # Square crops around each face (its box as the engine finds it, 2.2 times as wide),
    # scaled so that the face is a little over a quarter of the frame's height.
    local tmp
    tmp=$(mktemp -d)
    ffmpeg -nostdin -hide_banner -loglevel error -i "$photos/obama2.jpg" -vf "crop=592:592:10:129,scale=$side:$side" "$tmp/a.png"
    ffmpeg -nostdin -hide_banner -loglevel error -i "$photos/obama3.jpg" -vf "crop=669:669:444:108,scale=$side:$side" "$tmp/b.png"
    ffmpeg -nostdin -hide_banner -loglevel error -i "$photos/biden.jpg" -vf "crop=752:752:203:12,scale=$side:$side" "$tmp/c.png"
    inputs=(-loop 1 -framerate 10 -i "$tmp/a.png" -loop 1 -framerate 10 -i "$tmp/b.png" -loop 1 -framerate 10 -i "$tmp/c.png")
    local step=$((w / 40))
    filter="[0][1]overlay=x='$((w / 4))+$step*t':y=$top:enable='between(t,1,4)'[v1];"
    filter+="[v1][2]overlay=x='$((w * 9 / 16))-$step*(t-9)':y=$top:enable='between(t,9,12)'[v2];"
    filter+="[v2][3]overlay=x=$(((w - side) / 2)):y=$top:enable='between(t,17,20)'[v0]"
  fi
  printf '\033[1m==> making %s\033[0m\n' "$out"
  ffmpeg -nostdin -hide_banner -loglevel error -y \
    -f lavfi -i "color=c=0x606060:s=${size}:r=10:d=$seconds" "${inputs[@]}" \
    -filter_complex "$filter" -map "[v0]" -t "$seconds" \
    -c:v libx264 -preset veryfast -g 10 -pix_fmt yuv420p -movflags +faststart "$out.part.mp4"
  mv "$out.part.mp4" "$out"
  [ -n "$people" ] && rm -rf "$tmp"
  return 0
}

clip "$dir/people.mp4" 1280x720 30 people
clip "$dir/empty.mp4" 1280x720 10
for size in "${sizes[@]:1}"; do clip "$dir/people-$size.mp4" "$size" 30 people; done
