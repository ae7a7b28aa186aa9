# Solebox: the two commands are `make run` and `make test`.
# Both install missing Debian packages (as root) and build first.

BUILD      ?= build
ASAN_BUILD ?= build-asan
MODEL      ?=
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_GEN  := -G Ninja

.PHONY: all deps deps-test build build-asan test test-release test-asan test-arm64 run clean

all: build

deps:
	@scripts/deps.sh run

deps-test:
	@scripts/deps.sh test

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOLEBOX_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# Every test: the release build, the whole suite again under ASan+UBSan, then
# the ARM64 build of the engine kernels and their tests under qemu-user (the
# appliance's host is ARM64).
test: deps-test
	@$(MAKE) --no-print-directory test-release
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory test-arm64

test-release: build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-asan: build-asan
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) -LE no-asan

test-arm64: deps-test
	@scripts/cross-arm64.sh build-arm64

run: build
	@if [ -z "$(MODEL)" ]; then \
	  echo "make run: no model given; serving anyway (/health says how to add one)."; \
	  echo "  Give a GGUF file:   make run MODEL=/path/to/model.gguf"; \
	  echo "  For example:        make run MODEL=../shared/models/stories260K.gguf"; \
	  exec ./$(BUILD)/solebox serve $${SERVE_ARGS:-}; \
	fi; \
	exec ./$(BUILD)/solebox serve -m "$(MODEL)" $${SERVE_ARGS:-}

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-arm64
