PREFIX ?= /usr/local
CARGO ?= cargo
RUNTIME ?= $(CURDIR)/target/release/rrun

.PHONY: all build release deps demo test test-image lint install clean bench bench-image conformance conformance-results integration attacks fuzz images systemd-vm

all: release

build:
	$(CARGO) build --workspace

# rrun itself is linked statically (glibc and libseccomp): every invocation starts about 1 ms
# faster, which more than pays for the re-execution from the sealed binary that create, run
# and exec make (src/sealed_exe.rs; bench/BEFORE-AFTER.md). rrun-image stays dynamic.
TRIPLE := $(shell rustc -vV | sed -n 's/^host: //p')
SECCOMP_LIBDIR := $(shell pkg-config --variable=libdir libseccomp 2>/dev/null || echo /usr/lib/$(shell gcc -dumpmachine 2>/dev/null))

release:
	$(CARGO) build --release -p rrun-image
	RUSTFLAGS="-C target-feature=+crt-static" LIBSECCOMP_LINK_TYPE=static \
		LIBSECCOMP_LIB_PATH=$(SECCOMP_LIBDIR) $(CARGO) build --release -p rrun --target $(TRIPLE)
	mkdir -p target/release
	cp -f target/$(TRIPLE)/release/rrun target/release/rrun.tmp && mv -f target/release/rrun.tmp target/release/rrun

deps:
	scripts/install-deps.sh

# Build, make a small image and run a container from it.
demo: deps release
	scripts/demo.sh

# The whole test suite (unit + integration with real containers, then the escape attacks of
# integration/attacks/ against the debug build, which is dynamically linked, so the attacks that
# plant an ELF interpreter in the image reach the re-executed binary); needs root.
test: deps
	$(CARGO) test --workspace -- --test-threads=4
	integration/attacks/run.sh --runtime $(CURDIR)/target/debug/rrun

# The config fuzzer, longer than in `make test` (150 cases there); RRUN_FUZZ_SEED replays a run.
FUZZ_CASES ?= 3000
fuzz:
	RRUN_FUZZ_CASES=$(FUZZ_CASES) $(CARGO) test -p rrun --test fuzz_config -- --nocapture

# The escape attacks against ATTACK_RUNTIME (any runc-compatible runtime; see SECURITY.md).
ATTACK_RUNTIME ?= $(CURDIR)/target/release/rrun
attacks:
	integration/attacks/run.sh --runtime $(ATTACK_RUNTIME)

# rrun under real engines (Docker, containerd's ctr and shim, podman), started privately, each
# flow compared with runc in the same run (integration/README.md); CI runs it.
integration: release
	integration/engines/run.sh --rrun $(CURDIR)/target/release/rrun

# rrun-image's acceptance on real Debian-built images (nginx, MariaDB, python): unpacked with
# the defaults and run with rrun as `docker run` would (integration/images/run.sh); CI runs it.
images: release
	integration/images/run.sh --rrun $(CURDIR)/target/release/rrun --rrun-image $(CURDIR)/target/release/rrun-image

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Only rrun-image's tests (registry on 127.0.0.1, crafted layers, umoci comparison).
test-image: deps
	$(CARGO) build -p rrun
	$(CARGO) test -p rrun-image

# The systemd cgroup driver (--systemd-cgroup) checked against runc and rrun under a real systemd
# (pid 1, pure cgroup v2) in a QEMU guest (integration/systemd/README.md); needs root.
# SYSTEMD_VM_ARGS: e.g. --mode v1, --runtimes runc, --keep.
SYSTEMD_VM_ARGS ?=
systemd-vm: release
	scripts/systemd-vm.sh --rrun $(CURDIR)/target/release/rrun $(SYSTEMD_VM_ARGS)

# The OCI conformance suite against RUNTIME (default: this build of rrun, checked against its
# baseline of passing tests; any other runtime against its known gaps).
conformance: release
	@if [ "$(RUNTIME)" = "$(CURDIR)/target/release/rrun" ]; then \
		oci-conformance/run.sh --runtime $(RUNTIME) --baseline oci-conformance/baseline-rrun.txt; \
	else \
		oci-conformance/run.sh --runtime $(RUNTIME); \
	fi

conformance-results: release
	oci-conformance/results.sh

# rrun vs runc vs crun (hyperfine, peak RSS, sizes) -> bench/RESULTS.md; not part of CI.
bench: release
	bench/run.sh

bench-image: release
	bench/image/run.sh target/release/rrun-image

install: release
	install -D -m 0755 target/release/rrun $(DESTDIR)$(PREFIX)/sbin/rrun
	install -D -m 0755 target/release/rrun-image $(DESTDIR)$(PREFIX)/bin/rrun-image

clean:
	$(CARGO) clean
