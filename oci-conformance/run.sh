#!/bin/sh
# Build and run the OCI conformance suite against one runtime.
#
#   oci-conformance/run.sh --runtime PATH [--baseline FILE] [--runtime-arg ARG]... [other runner flags]
#
# Prints TAP ending with `N passed, M failed, K skipped`. Exit status:
#  - with --baseline FILE: non-zero only if a test listed in FILE fails now;
#  - with --known-gaps FILE: non-zero if a test fails that FILE does not list;
#  - with neither, the runtime's file name picks one: baseline-<name>.txt if it
#    exists (rrun), else known-gaps-<name>.txt (runc, crun), else any failure
#    makes the exit status non-zero.
# A runtime named crun is run inside a private mount namespace with the cgroup2
# mount removed (crun refuses hybrid cgroup hosts; see /work/shared/HOST.md).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
runtime=
prev=
for a in "$@"; do
    [ "$prev" = "--runtime" ] && runtime=$a
    case $a in --runtime=*) runtime=${a#--runtime=} ;; esac
    prev=$a
done
[ -n "$runtime" ] || { echo "usage: $0 --runtime PATH [--baseline FILE] [runner flags]" >&2; exit 2; }

lock=/tmp/rrun-build.lock
(cd "$here" && flock "$lock" cargo build --release --quiet)
bin=$here/target/x86_64-unknown-linux-gnu/release

name=$(basename "$runtime")
gaps=
case " $* " in
    *" --known-gaps"*|*" --baseline"*) ;;
    *)
        if [ -f "$here/baseline-$name.txt" ]; then
            gaps="--baseline $here/baseline-$name.txt"
        elif [ -f "$here/known-gaps-$name.txt" ]; then
            gaps="--known-gaps $here/known-gaps-$name.txt"
        fi
        [ -n "$gaps" ] && echo "# using ${gaps#--}"
        ;;
esac

if [ "$name" = crun ] && [ -f /sys/fs/cgroup/unified/cgroup.controllers ] \
    && [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers)" ] && [ -z "${OCI_CONFORMANCE_UNSHARED:-}" ]; then
    echo "# crun refuses hybrid cgroups with v2 controllers: running in a private mount namespace without /sys/fs/cgroup/unified"
    # shellcheck disable=SC2086
    exec unshare -m --propagation private env OCI_CONFORMANCE_UNSHARED=1 sh -c \
        'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$bin/oci-conformance" $gaps "$@"
fi
# shellcheck disable=SC2086
exec "$bin/oci-conformance" $gaps "$@"
