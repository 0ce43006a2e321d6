# cria: build, test and run.
#
#   make            build build/cria and build/libcria.a
#   make run        build, then generate a story on the default model (scripts/default-model.sh)
#   make test       build and run the whole test suite (installs missing Debian packages first)
#   make test-asan  the suite under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   make fuzz       a short, bounded libFuzzer run of the GGUF reader (clang)
#   make bench-kernels  serial vs parallel time of every kernel (THREADS=N, default 2)
#   make bench-blas     cria's f32 GEMM against OpenBLAS (installs libopenblas-dev; THREADS=N)
#
# Variables: CC, BUILD (output folder), SAN=1 (sanitizers), OPT (optimisation flags), V=1 (echo commands).

CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
SAN     ?=
V       ?=
Q       := $(if $(V),,@)
.DEFAULT_GOAL := all

WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wundef -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wwrite-strings -Wvla -Wformat=2 -Wimplicit-fallthrough -Wcast-qual \
           -Wdouble-promotion -Werror=implicit-function-declaration -Werror=return-type
CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -Iinclude -Isrc -pthread -fno-math-errno -fopenmp-simd
LDLIBS  := -lhwloc -lpcre2-8 -lcjson -lmicrohttpd -lm -pthread

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# cria --version and cria bench name the commit and the flags they were built from.
GIT_COMMIT  := $(or $(shell git rev-parse --short HEAD 2>/dev/null),unknown)
BUILD_FLAGS := $(filter-out -W% -I% -D%,$(CFLAGS))
$(BUILD)/app/main.o $(BUILD)/app/bench.o: CFLAGS += -DCRIA_GIT_COMMIT='"$(GIT_COMMIT)"' -DCRIA_BUILD_FLAGS='"$(BUILD_FLAGS)"'
$(BUILD)/app/main.o $(BUILD)/app/bench.o: $(BUILD)/commit  # rewritten only when the commit changes
$(shell mkdir -p $(BUILD) && (echo $(GIT_COMMIT) | cmp -s - $(BUILD)/commit || echo $(GIT_COMMIT) > $(BUILD)/commit))

# ISA-specific kernels: one file per instruction set, compiled with its flags;
# the dispatcher picks one at run time (src/base/cpu.c), so the binary runs on
# any x86-64.
AVX2_FLAGS   := -mavx2 -mfma -mf16c
AVX512_FLAGS := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16 -mfma -mf16c

LIB_SRC  := $(sort $(shell find src -name '*.c'))
APP_SRC  := $(sort $(wildcard app/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_LIB := $(sort $(filter-out $(TEST_SRC),$(wildcard tests/*.c)))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
APP_OBJ  := $(APP_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_LIB:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

LIB := $(BUILD)/libcria.a
BIN := $(BUILD)/cria

.PHONY: all run test test-asan check fuzz deps clean bench bench-kernels bench-blas
all: $(BIN)

# Every compile waits for the Debian packages (headers of hwloc, PCRE2, cJSON, libmicrohttpd, cmocka):
# scripts/deps.sh installs what is missing, once per build folder and again when the script changes.
DEPS_STAMP := $(BUILD)/.deps-installed
$(DEPS_STAMP): scripts/deps.sh
	@mkdir -p $(dir $@)
	@scripts/deps.sh
	@touch $@

$(BUILD)/%_avx2.o: %_avx2.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo 'CC $<'
	$(Q)$(CC) $(CFLAGS) $(AVX2_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%_avx512.o: %_avx512.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo 'CC $<'
	$(Q)$(CC) $(CFLAGS) $(AVX512_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo 'CC $<'
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	@echo 'AR $@'
	$(Q)ar rcs $@ $^

$(BIN): $(APP_OBJ) $(LIB)
	@echo 'LD $@'
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_OBJ) $(LIB)
	@echo 'LD $@'
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

deps:
	@scripts/deps.sh

run: $(BIN)
	@scripts/run-default.sh $(BIN)

test: deps
	@$(MAKE) --no-print-directory $(BIN) $(TEST_BIN)
	@scripts/run-tests.sh $(BUILD)

test-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 OPT=-O1 test

fuzz:
	@CRIA_FUZZ_DEPS=1 scripts/deps.sh
	@scripts/fuzz.sh

# Kernel micro-benchmark: serial vs parallel per kernel and size (docs/benchmarks.md).
$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	@echo 'LD $@'
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

bench-kernels: $(BUILD)/bench/bench_kernels
	@$(BUILD)/bench/bench_kernels -t $(or $(THREADS),2)

# make bench-blas: cria's f32 GEMM against OpenBLAS's sgemm (installs libopenblas-dev; nothing else links it).
bench-blas:
	@CRIA_BLAS_DEPS=1 scripts/deps.sh
	@$(MAKE) --no-print-directory $(BUILD)/bench/bench_blas
	@$(BUILD)/bench/bench_blas -t $(or $(THREADS),2)

$(BUILD)/bench/bench_blas: $(BUILD)/bench/bench_blas.o $(LIB)
	@echo 'LD $@'
	$(Q)$(CC) $(LDFLAGS) $^ -lopenblas $(LDLIBS) -o $@

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# make test-tsan: the thread pool's tests under ThreadSanitizer (build-tsan/).
ifeq ($(TSAN),1)
CFLAGS  += -fsanitize=thread
LDFLAGS += -fsanitize=thread
endif

.PHONY: test-tsan clean-tsan
test-tsan: deps
	@$(MAKE) --no-print-directory BUILD=build-tsan TSAN=1 OPT=-O1 build-tsan/tests/test_pool
	@build-tsan/tests/test_pool

clean: clean-tsan
clean-tsan:
	rm -rf build-tsan

# make bench: the sampler micro-benchmark (bench/bench_samplers.c), naive vs optimised, one thread.
bench: $(BUILD)/bench/bench_samplers
	$(BUILD)/bench/bench_samplers

$(BUILD)/bench/bench_samplers: $(BUILD)/bench/bench_samplers.o $(LIB)
	@echo 'LD $@'
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@
