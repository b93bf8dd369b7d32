# rldt — one build for the library, the CLI, the CUDA backend plugin and the tests.
#
#   make                 CPU library + CLI; the CUDA plugin too when nvcc is found (CUDA=0 skips it)
#   make test            build and run every test (GPU tests skip without a device)
#   make test SANITIZE=1 the same under AddressSanitizer + UndefinedBehaviorSanitizer (in build-san/)
#   make test-gpu        the device tests on a real GPU (bench/gpu_check.sh runs them with the benchmarks)
#   make test-mutants    deliberately broken kernels must fail the emulated (cuda-emu) tests
#   make fuzz            the libFuzzer targets, FUZZ_SECONDS each (clang; build/fuzz/)
#   make deps            install the system packages (Debian/Ubuntu, apt-get), then MuJoCo and the test venvs (.deps/)
#   make run             the main job: a small end-to-end run on whatever device is present
#   make bench           kernel and environment microbenchmarks
#   make clean

SANITIZE ?= 0
BUILD    ?= $(if $(filter 1,$(SANITIZE)),build-san,build)
NVCC     ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA     ?= $(if $(NVCC),1,0)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))

CC       ?= cc
OPT      ?= -O2
CFLAGS   += -std=c11 $(OPT) -g -fPIC -Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-format-truncation -Werror -pthread -MMD -MP \
            -Iinclude $(shell pkg-config --cflags hdf5 ompi-c) -DRLDT_BUILD_CUDA=$(CUDA)
LDLIBS   += $(shell pkg-config --libs hdf5 ompi-c) -lhdf5_hl -lopenblas -lyaml -lcjson -lz -lm -ldl -pthread
ifeq ($(SANITIZE),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif
# The CPU backend's math (host/nn/backend_cpu.c, host/nn/cpu_*.c) is built for speed and stays portable:
# -O3 so that GCC vectorises every elementwise loop (at -O2 it only vectorises loops it can prove need no
# remainder), -fno-trapping-math so that a select may evaluate both of its sides (values, NaN and inf are
# IEEE's as before; only floating-point exception flags go unspecified), -fno-math-errno so that sqrtf is
# one instruction. No -march: the hot loops carry target_clones (AVX-512, AVX2 and baseline x86-64
# versions; the loader picks one per machine), and contraction stays off (ISO C), so all compute the same bits.
CPU_MATH_CFLAGS := -O3 -fno-trapping-math -fno-math-errno
$(BUILD)/host/nn/backend_cpu.o: CFLAGS += $(CPU_MATH_CFLAGS)
$(BUILD)/host/nn/cpu_%.o: CFLAGS += $(CPU_MATH_CFLAGS)

# MuJoCo: the C library from the pinned PyPI wheel, unpacked into .deps/mujoco by scripts/install-mujoco.sh
# (`make deps`), linked with an rpath; the default models are Gymnasium's MJCF files in the venv .deps/venv.
# Without the library everything still builds (MUJOCO=0) and the MuJoCo tasks report how to install it.
# $(BUILD)/mujoco.flags records the choice, so installing or removing MuJoCo rebuilds what depends on it.
MUJOCO_DIR    ?= $(CURDIR)/.deps/mujoco
MUJOCO_VENV   ?= $(CURDIR)/.deps/venv
# robomimic's own scripts for the dataset compatibility tests (scripts/install-robomimic.sh; they skip without it)
ROBOMIMIC_VENV ?= $(CURDIR)/.deps/robomimic-venv
# robosuite for env.name=robosuite:<Task> (scripts/install-robosuite.sh; its tests skip without it)
ROBOSUITE_VENV ?= $(CURDIR)/.deps/robosuite-venv
MUJOCO_LIB    := $(firstword $(wildcard $(MUJOCO_DIR)/lib/libmujoco.so.*))
MUJOCO        ?= $(if $(and $(MUJOCO_LIB),$(wildcard $(MUJOCO_DIR)/include/mujoco/mujoco.h)),1,0)
MUJOCO_ASSETS := $(firstword $(wildcard $(MUJOCO_VENV)/lib/python3*/site-packages/gymnasium/envs/mujoco/assets))
ifeq ($(MUJOCO),1)
MUJOCO_CFLAGS := -DRLDT_MUJOCO=1 -isystem $(MUJOCO_DIR)/include -DRLDT_MUJOCO_ASSETS='"$(MUJOCO_ASSETS)"'
LDLIBS   += $(MUJOCO_LIB) -Wl,-rpath,$(dir $(MUJOCO_LIB))
else
MUJOCO_CFLAGS := -DRLDT_MUJOCO=0
endif
MUJOCO_STAMP := $(BUILD)/mujoco.flags
$(shell mkdir -p $(BUILD) && { echo '$(MUJOCO_CFLAGS) $(MUJOCO_LIB)' | cmp -s - $(MUJOCO_STAMP) || echo '$(MUJOCO_CFLAGS) $(MUJOCO_LIB)' >$(MUJOCO_STAMP); })
$(BUILD)/host/envs/mujoco/%.o: CFLAGS += $(MUJOCO_CFLAGS)
$(BUILD)/host/envs/mujoco/%.o: $(MUJOCO_STAMP)

# The Gymnasium bridge starts host/envs/bridge/gym_worker.py from this tree, by default with the venv's
# interpreter when it exists at run time (else python3 from PATH).
$(BUILD)/host/envs/bridge/%.o: CFLAGS += -DRLDT_GYM_WORKER='"$(CURDIR)/host/envs/bridge/gym_worker.py"' \
                                          -DRLDT_GYM_PYTHON='"$(MUJOCO_VENV)/bin/python"' \
                                          -DRLDT_ROBOSUITE_PYTHON='"$(ROBOSUITE_VENV)/bin/python"'

NVCCFLAGS ?= -O3 -std=c++17 -Iinclude -Xcompiler -fPIC,-Wall,-Wextra,-Wno-unused-parameter,-Wno-format-truncation,-Werror \
             -Werror all-warnings -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=[sm_90,compute_90]

LIB_SRC  := $(wildcard host/core/*.c host/comm/*.c host/nn/*.c host/rl/*.c host/envs/*.c host/envs/mujoco/*.c host/envs/bridge/*.c host/io/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  := $(wildcard host/main/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
CU_SRC   := $(wildcard kernels/*.cu)
CU_OBJ   := $(CU_SRC:%.cu=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

TARGETS  := $(BUILD)/librldt.a $(BUILD)/librldt.so $(BUILD)/rldt $(BUILD)/librldt_cuda_emu.so
ifeq ($(CUDA),1)
TARGETS  += $(BUILD)/librldt_cuda.so
endif
ifneq ($(SANITIZE),1)
TARGETS  += rldt
endif

.PHONY: all test test-gpu test-mutants deps run bench clean
all: $(TARGETS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/librldt.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/librldt.so: $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/rldt: $(CLI_OBJ) $(BUILD)/librldt.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ./rldt is a link, so rebuilding never has to overwrite a binary that is running
rldt: $(BUILD)/rldt
	ln -sf $< $@

# The CUDA backend is a plugin loaded with dlopen at run time, so that CPU-only processes (and every test
# binary) never map the CUDA libraries. It is self-contained: it uses only the headers' inline math.
# Each kernel object keeps its ptxas -v log beside it; linking the plugin writes the resource table
# ($(BUILD)/kernel-resources.txt: registers, shared memory, stack, spills per kernel and architecture) and
# fails when any kernel spills registers (scripts/kernel-resources.sh).
$(BUILD)/kernels/%.o: kernels/%.cu $(wildcard include/rldt/*.h kernels/*.cuh)
	@mkdir -p $(dir $@)
	@echo "$(NVCC) $(NVCCFLAGS) -Xptxas -v -c $< -o $@"
	@$(NVCC) $(NVCCFLAGS) -Xptxas -v -c $< -o $@ 2>$(@:.o=.ptxas) || { cat $(@:.o=.ptxas); exit 1; }

# kernels/nccl.cu links NCCL (the data-parallel collectives) into the plugin alone: the host library and the
# CLI reach it through the backend table, so they never link NCCL or CUDA.
$(BUILD)/librldt_cuda.so: $(CU_OBJ)
	scripts/kernel-resources.sh $(CU_OBJ:.o=.ptxas) >$(BUILD)/kernel-resources.txt
	$(NVCC) -shared -o $@ $^ -lcublas -lnccl

# The kernel emulator (cuda-emu): the same kernels/*.cu built by the host C++ compiler against kernels/emu/
# (a block's threads as fibers, cuBLAS on OpenBLAS) into a plugin with the CUDA plugin's entry point. It needs
# no nvcc, so it is always built, and CI runs every kernel through it. EMU_KDIR lets tests/emu_mutants.sh
# build it from a mutated copy of kernels/. tests/emu_test_kernels.cu (the emulator's own test kernels)
# builds into a test-only plugin. NCCL (kernels/nccl.cu) stays out: the emulator's ranks average over MPI.
EMU_KDIR ?= kernels
EMU_CXXFLAGS := -std=c++17 $(OPT) -g -fPIC -fvisibility=hidden -pthread -Wall -Wextra -Wno-unused-parameter \
                -Wno-unknown-pragmas -Wno-format-truncation -Werror -MMD -MP -DRLDT_CUDA_EMU -I$(EMU_KDIR)/emu/include -Iinclude -I$(EMU_KDIR)
ifeq ($(SANITIZE),1)
EMU_CXXFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
EMU_RT_OBJ := $(patsubst $(EMU_KDIR)/emu/%.cpp,$(BUILD)/emu/rt/%.o,$(wildcard $(EMU_KDIR)/emu/*.cpp))
EMU_OBJ  := $(patsubst $(EMU_KDIR)/%.cu,$(BUILD)/emu/%.o,$(filter-out $(EMU_KDIR)/nccl.cu,$(wildcard $(EMU_KDIR)/*.cu))) $(EMU_RT_OBJ)

$(BUILD)/emu/%.o: $(EMU_KDIR)/%.cu
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_CXXFLAGS) -x c++ -c $< -o $@

$(BUILD)/emu/rt/%.o: $(EMU_KDIR)/emu/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_CXXFLAGS) -c $< -o $@

$(BUILD)/librldt_cuda_emu.so: $(EMU_OBJ)
	$(CXX) -shared $(LDFLAGS) -o $@ $^ -lopenblas -lpthread

$(BUILD)/tests/emu_test_kernels.o: tests/emu_test_kernels.cu
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_CXXFLAGS) -x c++ -c $< -o $@

$(BUILD)/tests/librldt_emu_test.so: $(BUILD)/tests/emu_test_kernels.o $(EMU_RT_OBJ)
	$(CXX) -shared $(LDFLAGS) -o $@ $^ -lopenblas -lpthread

$(BUILD)/tests/rldt_tests: $(TEST_OBJ) $(BUILD)/librldt.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcriterion

# The rank program of the data-parallel tests (tests/test_comm.c runs it alone and under mpirun).
$(BUILD)/tests/comm_check: tests/mpi/comm_check.c $(BUILD)/librldt.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

test: all $(BUILD)/tests/rldt_tests $(BUILD)/tests/librldt_emu_test.so $(BUILD)/tests/comm_check
	cd tests && RLDT_BIN=$(CURDIR)/$(BUILD)/rldt RLDT_CUDA_LIB=$(CURDIR)/$(BUILD)/librldt_cuda.so \
	  RLDT_COMM_CHECK=$(CURDIR)/$(BUILD)/tests/comm_check \
	  RLDT_CUDA_EMU_LIB=$(CURDIR)/$(BUILD)/librldt_cuda_emu.so RLDT_EMU_TEST_LIB=$(CURDIR)/$(BUILD)/tests/librldt_emu_test.so \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp RLDT_MUJOCO_PYTHON=$(MUJOCO_VENV)/bin/python \
	  RLDT_ROBOMIMIC_PYTHON=$(ROBOMIMIC_VENV)/bin/python RLDT_ROBOSUITE_PYTHON=$(ROBOSUITE_VENV)/bin/python \
	  ../$(BUILD)/tests/rldt_tests --jobs=$${TEST_JOBS:-2} $(TEST_ARGS)

# The tests that exercise the device: every parity test and the device fine-tunes, on the real GPU (they skip
# cleanly without one). bench/gpu_check.sh runs this.
test-gpu:
	RLDT_TEST_DEVICE=cuda $(MAKE) test TEST_ARGS="--filter '@(parity|device)/*' $(TEST_ARGS)"

# Deliberately broken kernels (tests/emu_mutants.sh): each must make the emulated tests fail.
test-mutants: all $(BUILD)/tests/rldt_tests $(BUILD)/tests/librldt_emu_test.so
	SANITIZE=$(SANITIZE) bash tests/emu_mutants.sh $(BUILD)

# libFuzzer targets (tests/fuzz/, clang): the YAML config loader + overrides, the dataset reader and the
# checkpoint reader. `make fuzz FUZZ_SECONDS=N` builds the library with coverage, ASan and UBSan into
# build/fuzz/ and runs each target N seconds on seeds made from real files; any finding fails.
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz: all
	$(MAKE) --no-print-directory BUILD=build/fuzz CC=tests/fuzz/cc.sh CUDA=0 SANITIZE=0 OPT="-O1 -Wno-unknown-warning-option \
	  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" build/fuzz/librldt.a
	LDLIBS="$(LDLIBS)" FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh build/fuzz $(BUILD)/rldt

$(BUILD)/bench/%: bench/%.c $(BUILD)/librldt.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench: all $(BENCH_BIN)
	./bench/run.sh $(BUILD)

deps:
	bash scripts/install-deps.sh --robomimic
	bash scripts/install-mujoco.sh
	bash scripts/install-robomimic.sh
	bash scripts/install-robosuite.sh

run: all
	bash scripts/main-job.sh

clean:
	rm -rf build build-san build-nocuda rldt

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(EMU_OBJ:.o=.d) $(BUILD)/tests/emu_test_kernels.d
