#!/usr/bin/env bash
# Boot a real systemd (Debian bookworm, systemd 252) as pid 1 in a QEMU guest and run the
# runtime-agnostic checks of the systemd cgroup driver (integration/systemd/checks.sh) against
# runc (the guest's Debian package) and rrun in the same boot. See integration/systemd/README.md.
#
# Usage: scripts/systemd-vm.sh [--mode v2|v1] [--runtimes "runc rrun"] [--rrun PATH]
#                              [--runs N] [--timeout SECONDS] [--runc-failures-ignored] [--keep]
#   --mode v2 (default): pure cgroup v2 (systemd.unified_cgroup_hierarchy=1);
#          v1: systemd's legacy layout (systemd.unified_cgroup_hierarchy=0, hybrid in systemd 252).
#   --runtimes: which runtimes to check (default "runc rrun").
#   --rrun: the rrun binary (default target/release/rrun of this checkout; must be static or run in a
#           Debian bookworm guest).
#   --runs: how many `run /bin/true` per driver for the timing (default 20).
#   --runc-failures-ignored: runc's failures are reported but do not make the exit status
#           non-zero (by default they do: runc is the reference and must pass everything).
#   --keep: keep the work dir (disk overlay, payload, serial log) for debugging.
# Environment: RRUN_VM_CACHE (default /var/tmp/rrun-vm): the rootfs tarball, the base disk image,
#   the guest kernel/initrd, and the serial logs of every run (logs/).
#   RRUN_VM_ACCEL: tcg or kvm (default: kvm only if /dev/kvm is usable and the CPU has vmx/svm).
# Exit status: the one the guest printed (RRUN-VM EXIT STATUS <n>); 1 if that line is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
mode=v2
runtimes="runc rrun"
rrun=$here/target/release/rrun
runs=20
timeout_s=900
ignore_runc=0
keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --mode) mode=$2; shift 2 ;;
    --runtimes) runtimes=$2; shift 2 ;;
    --rrun) rrun=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --runc-failures-ignored) ignore_runc=1; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "systemd-vm.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case $mode in
  v2) cg_cmdline="systemd.unified_cgroup_hierarchy=1" ;;
  v1) cg_cmdline="systemd.unified_cgroup_hierarchy=0 SYSTEMD_CGROUP_ENABLE_LEGACY_FORCE=1" ;;
  *) echo "systemd-vm.sh: --mode v2|v1" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "systemd-vm.sh: run as root (the guest rootfs is extracted with its owners)" >&2; exit 2; }
for r in $runtimes; do
  case $r in
    runc) ;;
    rrun) [ -x "$rrun" ] || { echo "systemd-vm.sh: no rrun binary at $rrun (--rrun PATH)" >&2; exit 2; } ;;
    *) echo "systemd-vm.sh: unknown runtime $r (runc, rrun)" >&2; exit 2 ;;
  esac
done

log() { printf '[systemd-vm %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# --- host tools -------------------------------------------------------------------------------
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi

# --- the guest rootfs tarball (cached) --------------------------------------------------------
cache=${RRUN_VM_CACHE:-/var/tmp/rrun-vm}
mkdir -p "$cache" "$cache/logs"
# One builder at a time per cache; the lock is dropped once this run's overlay exists (a rebuild
# removes the images of older keys, and a qemu already running keeps its open backing file).
exec 9>"$cache/.lock"
flock 9
include=linux-image-amd64,systemd,systemd-sysv,dbus,runc,busybox-static,kmod,udev,jq,procps
tarball=$cache/root.tar
if [ ! -s "$tarball" ] || [ "$(cat "$tarball.include" 2>/dev/null)" != "$include" ]; then
  log "building the guest rootfs $tarball (mmdebstrap bookworm: $include; about a minute)"
  rm -f "$tarball.tmp.tar"
  mmdebstrap --quiet --variant=minbase --include="$include" bookworm "$tarball.tmp.tar" >&2
  mv -f "$tarball.tmp.tar" "$tarball"
  echo "$include" > "$tarball.include"
fi

# --- the base disk image, kernel and initrd (cached, keyed on the tarball and the guest unit) -
unit=$here/integration/systemd/rrun-vm-checks.service
image_rev=1 # bump when the image customisation below changes
key=$( { stat -c '%s %Y' "$tarball"; cat "$unit"; echo "$image_rev"; } | sha256sum | cut -c1-16)
base=$cache/base-$key.img
if [ ! -s "$base" ] || [ ! -s "$cache/vmlinuz-$key" ] || [ ! -s "$cache/initrd-$key" ]; then
  log "building the base disk image $base"
  t0=$(date +%s)
  stage=$(mktemp -d "$cache/stage.XXXXXX")
  tar -C "$stage" --numeric-owner --xattrs --xattrs-include='*' -xpf "$tarball"
  echo rrun-vm > "$stage/etc/hostname"
  printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' > "$stage/etc/fstab"
  install -m 0644 "$unit" "$stage/etc/systemd/system/rrun-vm-checks.service"
  ln -sf ../rrun-vm-checks.service "$stage/etc/systemd/system/multi-user.target.wants/rrun-vm-checks.service"
  # The serial console belongs to the checks: no login prompt on it; nothing that only costs
  # boot time under TCG.
  for u in serial-getty@ttyS0.service getty@tty1.service systemd-timesyncd.service \
           apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer; do
    ln -sf /dev/null "$stage/etc/systemd/system/$u"
  done
  kver=$(ls "$stage/boot" | sed -n 's/^vmlinuz-//p' | sort -V | tail -1)
  cp "$stage/boot/vmlinuz-$kver" "$cache/vmlinuz-$key.tmp"
  cp "$stage/boot/initrd.img-$kver" "$cache/initrd-$key.tmp"
  size_mb=$(( $(du -sm "$stage" | cut -f1) + 512 ))
  rm -f "$base.tmp"
  mkfs.ext4 -q -L rrun-vm-root -d "$stage" "$base.tmp" "${size_mb}M"
  rm -rf "$stage"
  # Drop the images of older keys.
  for old in "$cache"/base-*.img "$cache"/vmlinuz-* "$cache"/initrd-*; do
    case $old in *"$key"*) ;; *) rm -f "$old" ;; esac
  done
  mv -f "$cache/vmlinuz-$key.tmp" "$cache/vmlinuz-$key"
  mv -f "$cache/initrd-$key.tmp" "$cache/initrd-$key"
  mv -f "$base.tmp" "$base"
  log "base image built in $(( $(date +%s) - t0 )) s"
fi

# --- this run: a qcow2 overlay over the base image, and the payload disk ---------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/rrun-systemd-vm.XXXXXX")
if [ "$keep" = 1 ]; then
  trap 'log "work dir kept: $work"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi
qemu-img create -q -f qcow2 -b "$base" -F raw "$work/root.qcow2"
kernel=$work/vmlinuz initrd=$work/initrd.img
cp "$cache/vmlinuz-$key" "$kernel"
cp "$cache/initrd-$key" "$initrd"
exec 9>&-

payload=$work/payload
mkdir -p "$payload/rootfs/bin" "$payload/rootfs/etc" "$payload/rootfs/tmp" "$payload/rootfs/proc" \
         "$payload/rootfs/sys" "$payload/rootfs/dev"
cp /bin/busybox "$payload/rootfs/bin/busybox"
for a in $("$payload/rootfs/bin/busybox" --list); do
  [ "$a" = busybox ] || ln -sf busybox "$payload/rootfs/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' > "$payload/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$payload/rootfs/etc/group"
install -m 0755 "$here/integration/systemd/checks.sh" "$payload/checks.sh"
rt_args=""
for r in $runtimes; do
  case $r in
    runc) rt_args="$rt_args runc=/usr/sbin/runc" ;;
    rrun) install -m 0755 "$rrun" "$payload/rrun"; rt_args="$rt_args rrun=/mnt/rrun-vm/rrun" ;;
  esac
done
check_flags="--mode $mode --runs $runs --rootfs /mnt/rrun-vm/rootfs"
[ "$ignore_runc" = 1 ] && check_flags="$check_flags --runc-failures-ignored"
cat > "$payload/guest-run.sh" <<EOF
#!/bin/bash
# Written by scripts/systemd-vm.sh; run by rrun-vm-checks.service in the guest.
echo "RRUN-VM BOOTED: guest uptime \$(cut -d' ' -f1 /proc/uptime) s"
echo "RRUN-VM guest: kernel \$(uname -r); \$(systemctl --version | head -1); \$(runc --version | head -1)"
echo "RRUN-VM guest: /sys/fs/cgroup is \$(stat -fc %T /sys/fs/cgroup); cmdline: \$(cat /proc/cmdline)"
t0=\$(date +%s)
/mnt/rrun-vm/checks.sh $check_flags $rt_args
st=\$?
echo "RRUN-VM CHECKS TOOK \$(( \$(date +%s) - t0 )) s (guest clock)"
echo "RRUN-VM EXIT STATUS \$st"
sync
# Straight to reboot(2): the root disk is a throwaway overlay (the unit's SuccessAction is the
# fallback; poweroff-force hung in a first try).
systemctl --force --force poweroff
exit 0
EOF
chmod 0755 "$payload/guest-run.sh"
payload_mb=$(( $(du -sm "$payload" | cut -f1) + 16 ))
mkfs.ext4 -q -L rrun-vm-payload -d "$payload" "$work/payload.img" "${payload_mb}M"

# --- boot -------------------------------------------------------------------------------------
accel=${RRUN_VM_ACCEL:-}
if [ -z "$accel" ]; then
  if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then accel=kvm; else accel=tcg; fi
fi
case $accel in
  kvm) qaccel=(-accel kvm -cpu host) ;;
  *) qaccel=(-accel tcg -cpu max) ;;
esac
serial=$cache/logs/serial-$(date -u +%Y%m%dT%H%M%SZ)-$mode.log
cmdline="console=ttyS0 root=/dev/vda rw $cg_cmdline panic=-1 edd=off loglevel=4 systemd.show_status=error"
log "booting ($accel, mode $mode, runtimes: $runtimes); serial log: $serial"
t0=$(date +%s)
set +e
nice -n 10 timeout "$timeout_s" qemu-system-x86_64 "${qaccel[@]}" -m 2048 -smp 2 \
  -nographic -no-reboot -nic none \
  -kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
  -drive file="$work/root.qcow2",if=virtio,format=qcow2 \
  -drive file="$work/payload.img",if=virtio,format=raw </dev/null | tee "$serial"
qemu_rc=${PIPESTATUS[0]}
set -e
t1=$(date +%s)
[ "$keep" = 1 ] && cp "$serial" "$work/serial.log"

boot=$(grep -a -o 'RRUN-VM BOOTED: guest uptime [0-9.]*' "$serial" | grep -o '[0-9.]*$' || true)
took=$(grep -a -o 'RRUN-VM CHECKS TOOK [0-9]*' "$serial" | grep -o '[0-9]*$' || true)
status=$(grep -a -o 'RRUN-VM EXIT STATUS [0-9]*' "$serial" | tail -1 | grep -o '[0-9]*$' || true)
echo
log "qemu ran $(( t1 - t0 )) s (exit $qemu_rc); guest booted to the checks in ${boot:-?} s; checks took ${took:-?} s"
log "serial log: $serial"
if [ -z "$status" ]; then
  [ "$qemu_rc" = 124 ] && log "qemu timed out after $timeout_s s"
  log "no RRUN-VM EXIT STATUS line in the serial log"
  exit 1
fi
log "guest exit status: $status"
exit "$status"
