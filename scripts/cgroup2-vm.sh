#!/bin/sh
# Run rrun's cgroup tests in a QEMU guest whose only cgroup hierarchy is cgroup2 (the
# development host is hybrid, so the v2 controllers cannot be tested on it directly).
# The guest is Debian's kernel with a busybox initramfs holding the test binary, its shared
# libraries and a virtio disk (for io.max); it boots in a few seconds under plain TCG (no KVM
# needed: nested KVM does not work on the development host).
# Needs: apt-get install qemu-system-x86 linux-image-amd64 busybox-static kmod cpio
# Usage: cgroup2-vm.sh <test binary> [test filter]
#   bin=$(cargo test -p librrun --lib --no-run 2>&1 | grep -o 'target/debug/deps/librrun-[a-z0-9]*')
#   scripts/cgroup2-vm.sh "$bin" cgroups::
# Exit status: that of the tests inside the guest.
set -eu
bin=$1; filter=${2:-cgroups::}
kernel=$(ls /boot/vmlinuz-* | sort -V | tail -1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p $root/bin $root/proc $root/sys $root/dev $root/tmp $root/lib64 $root/lib/x86_64-linux-gnu
cp /bin/busybox $root/bin/busybox
for a in sh sleep mount poweroff cat echo mkdir insmod ls; do ln -s busybox $root/bin/$a; done
cp "$bin" $root/bin/tests
# A virtio disk, so that the io controller tests have a block device.
kver=$(basename "$kernel" | sed 's/^vmlinuz-//')
mkdir -p $root/modules
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
  cp "$(modinfo -k "$kver" -F filename $m)" $root/modules/$m.ko
done
truncate -s 8M $work/disk.img
for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do cp -L "$lib" "$root$lib"; done
cat > $root/init <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
  insmod /modules/$m.ko
done
echo "cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers); disks: $(ls /sys/block)"
# Every need of a host test that this guest meets must run (src/cgroups/host_tests/needs.rs).
RRUN_REQUIRE_HOST_TESTS=root,v2-host,disk RUST_BACKTRACE=1 /bin/tests --test-threads=2 --nocapture FILTER
echo "TESTS EXIT STATUS $?"
poweroff -f
INIT
sed -i "s|FILTER|$filter|" $root/init
chmod +x $root/init
(cd $root && find . | cpio -o -H newc 2>/dev/null | gzip -1) > $work/initrd.gz
timeout 600 qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 2 -nographic -no-reboot \
  -kernel "$kernel" -initrd $work/initrd.gz \
  -drive file=$work/disk.img,if=virtio,format=raw \
  -append "console=ttyS0 loglevel=4 edd=off panic=-1 rdinit=/init" </dev/null | tee $work/console.txt
status=$(grep -a -o 'TESTS EXIT STATUS [0-9]*' $work/console.txt | grep -o '[0-9]*$' || echo 1)
exit "$status"
