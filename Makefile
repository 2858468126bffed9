PREFIX ?= /usr/local
CARGO ?= cargo
RUNTIME ?= $(CURDIR)/target/release/rrun

.PHONY: all build release deps demo test lint install clean

all: release

build:
	$(CARGO) build

release:
	$(CARGO) build --release

deps:
	scripts/install-deps.sh

# Build, make a small image and run a container from it.
demo: deps release
	scripts/demo.sh

# The whole test suite (unit + integration with real containers); needs root.
test: deps
	$(CARGO) test -- --test-threads=4

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

install: release
	install -D -m 0755 target/release/rrun $(DESTDIR)$(PREFIX)/sbin/rrun

clean:
	$(CARGO) clean
