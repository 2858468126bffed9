#!/usr/bin/env bash
# The main job end to end: build rrun and rrun-image, make a small image (an OCI layout with a
# static busybox), unpack it into a bundle with rrun-image, run a container from it with rrun.
set -euo pipefail
cd "$(dirname "$0")/.."
demo=$PWD/target/demo
rm -rf "$demo"
mkdir -p "$demo"
ref=$(scripts/make-busybox-image.sh "$demo/image" latest)
target/release/rrun-image --root "$demo/store" unpack "$ref" "$demo/bundle"
target/release/rrun --root "$demo/state" run -b "$demo/bundle" "demo-$$"
