# Thin wrapper over CMake. `make demo` and `make test` are the two set-up commands.
JOBS ?= 2
BUILD ?= build/release
SANITIZE_BUILD ?= build/sanitize
TSAN_BUILD ?= build/tsan
FUZZ_BUILD ?= build/fuzz
FUZZ_SECONDS ?= 120
CMAKE_FLAGS ?=
PREFIX ?= /usr/local

.PHONY: all deps release install demo test test-sanitize fuzz format bench clean

all: release

deps:
	@scripts/install-deps

release: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Puts `klaxon` on the PATH ($(PREFIX)/bin), so the README's commands work as written.
install: release
	@cmake --install $(BUILD) --prefix $(PREFIX) >/dev/null
	@echo "installed $(PREFIX)/bin/klaxon"

demo: install
	@scripts/demo $(PREFIX)/bin/klaxon

test: release
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-sanitize: deps
	@cmake -S . -B $(SANITIZE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKLAXON_SANITIZE=ON \
	  -DKLAXON_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(SANITIZE_BUILD) -j$(JOBS)
	@cd $(SANITIZE_BUILD) && KLAXON_SANITIZE=1 ctest --output-on-failure -j$(JOBS)
	@# ThreadSanitizer cannot share a build with ASan: a build of its own, with only what the
	@# reload-while-scraped test needs (the libraries and that one test binary).
	@cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKLAXON_TSAN=ON \
	  -DKLAXON_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(TSAN_BUILD) -j$(JOBS) --target reload_scrape_race_test
	@cd $(TSAN_BUILD) && ctest --output-on-failure -R '^reload_scrape_race_test$$'

fuzz: deps
	@scripts/fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

format:
	@git ls-files '*.h' '*.cpp' | xargs clang-format-14 -i

bench: release
	@scripts/bench $(BUILD)

clean:
	rm -rf build
