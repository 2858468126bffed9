#!/usr/bin/env bash
# The main job end to end: build rrun, make a small image (a busybox rootfs), turn it into a
# bundle and run a container from it.
set -euo pipefail
cd "$(dirname "$0")/.."
RRUN=target/release/rrun
demo=target/demo
rm -rf "$demo"
mkdir -p "$demo/rootfs/bin" "$demo/rootfs/etc" "$demo/rootfs/tmp"
cp "$(command -v busybox)" "$demo/rootfs/bin/busybox"
for a in $("$demo/rootfs/bin/busybox" --list); do
  [ "$a" = busybox ] || ln -sf busybox "$demo/rootfs/bin/$a"
done
echo 'root:x:0:0:root:/:/bin/sh' > "$demo/rootfs/etc/passwd"
"$RRUN" spec -b "$demo"
# Not interactive: print what the container sees instead of starting a shell.
jq '.process.terminal=false | .process.args=["/bin/sh","-c","echo \"hello from $(hostname), pid $$\"; id; ls /; ps"]' \
  "$demo/config.json" > "$demo/config.json.new" && mv "$demo/config.json.new" "$demo/config.json"
"$RRUN" --root "$PWD/target/demo-state" run -b "$demo" "demo-$$"
