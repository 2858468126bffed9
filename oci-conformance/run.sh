#!/bin/sh
# Build and run the OCI conformance suite against one runtime.
#
#   oci-conformance/run.sh --runtime PATH [--baseline FILE] [--runtime-arg ARG]... [other runner flags]
#
# Prints TAP ending with `N passed, M failed, K skipped`. Exit status:
#  - with --baseline FILE: non-zero only if a test listed in FILE fails now;
#  - otherwise non-zero if a test fails that is not in known-gaps-<runtime>.txt
#    (picked automatically from the runtime's file name, e.g. known-gaps-runc.txt).
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
    *) [ -f "$here/known-gaps-$name.txt" ] && gaps="--known-gaps $here/known-gaps-$name.txt" ;;
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
