# warren: top-level entry points. `make run` and `make test` install what is missing first.
BUILD    ?= build
SANITIZE ?= 0
MESON_OPTS ?=
ifeq ($(SANITIZE),1)
  BUILD := build-asan
  MESON_OPTS += -Db_sanitize=address,undefined -Db_lundef=false
endif

.PHONY: all deps build run test bench clean format
all: build

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	$(BUILD)/src/warrend/warrend $(ARGS)

test: build
	BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run-all.sh

bench: build
	WARREN_BENCH_DEPS=1 scripts/deps.sh
	BUILD=$(BUILD) bench/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan
