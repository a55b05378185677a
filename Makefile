# fwledger build. `make` builds build/fwledgerd, build/fwledger and the client library
# build/libfwlclient.a; `make check` runs the tests; `make demo` runs the demo; `make asan`
# runs the tests under ASan+UBSan; `make bench` runs the benchmarks; `make fuzz` builds the
# libFuzzer targets. Quiet unless V=1.

BUILD   ?= build
CC      ?= cc
PYTHON  ?= /usr/bin/python3
PKGS    := libsecp256k1 libuv libssl libcrypto jansson
DEPS_OK := $(shell pkg-config --exists $(PKGS) cmocka 2>/dev/null && test -f /usr/include/lmdb.h \
             && test -f /usr/include/pb.h && command -v nanopb_generator.py >/dev/null \
             && command -v protoc >/dev/null && command -v faketime >/dev/null && command -v openssl >/dev/null && echo yes)
ifneq ($(DEPS_OK),yes)
  ifeq ($(filter clean help,$(MAKECMDGOALS)),)
    $(info fwledger: dependencies missing, running scripts/install-deps)
    $(if $(shell sh scripts/install-deps >&2 && echo ok),,$(error scripts/install-deps failed))
  endif
endif

Q := @
ifeq ($(V),1)
  Q :=
endif

OPT      ?= -O2 -g
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-missing-field-initializers
CPPFLAGS += -I. -I$(BUILD)/proto -D_GNU_SOURCE
CFLAGS   += -std=c11 $(OPT) $(WARN) -MMD -MP $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(EXTRA_CFLAGS)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -llmdb -lprotobuf-nanopb -lpthread -lm
TEST_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)
LDFLAGS  += $(EXTRA_LDFLAGS)

PROTO_C  := $(BUILD)/proto/fwledger.pb.c
PROTO_H  := $(BUILD)/proto/fwledger.pb.h

# Library code: everything but the two mains and the tool. node/ has four rooms (see
# docs/architecture.md): the client library (node/client), the file formats (node/files), the
# daemon (node/daemon) and the tool (node/tool).
MAINS     := node/daemon/fwledgerd.c node/tool/main.c
LIB_SRCS  := $(wildcard ledger/*.c consensus/*.c contracts/*.c p2p/*.c node/client/*.c \
                        node/files/*.c) $(filter-out $(MAINS),$(wildcard node/daemon/*.c))
TOOL_SRCS := $(filter-out $(MAINS),$(wildcard node/tool/*.c))
LIB_OBJS  := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) $(BUILD)/obj/proto/fwledger.pb.o
TOOL_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(TOOL_SRCS))
LIB       := $(BUILD)/libfwl.a

# The client library's archive: what a tracker or an author's tool links. It holds the
# client, the ledger's codecs and crypto (not its LMDB store), the contracts (the pure
# decider) and the schema, and links with CLIENT_LDLIBS alone: no LMDB, no libuv, no jansson.
CLIENT_SRCS := $(wildcard node/client/*.c contracts/*.c) \
               $(filter-out ledger/store%.c ledger/rules.c,$(wildcard ledger/*.c))
CLIENT_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(CLIENT_SRCS)) $(BUILD)/obj/proto/fwledger.pb.o
CLIENT_LIB  := $(BUILD)/libfwlclient.a
CLIENT_LDLIBS := $(shell pkg-config --libs libsecp256k1 libssl libcrypto 2>/dev/null) \
                 -lprotobuf-nanopb -lm
# The tool: the client library and the file formats (jansson); no LMDB, no libuv.
FILES_OBJS  := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard node/files/*.c))
TOOL_LDLIBS := $(CLIENT_LDLIBS) $(shell pkg-config --libs jansson 2>/dev/null)

TEST_SRCS := $(wildcard tests/ledger/test_*.c tests/node/test_*.c tests/consensus/test_*.c \
                        tests/contracts/test_*.c tests/p2p/test_*.c)
TESTS     := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
FUNC_TESTS := $(sort $(wildcard tests/functional/test_*.sh))
FUNC_PROGS := $(patsubst tests/functional/%.c,$(BUILD)/tests/functional/%,$(wildcard tests/functional/*.c))

BINS := $(BUILD)/fwledgerd $(BUILD)/fwledger

.PHONY: all check layout unit functional demo asan tsan bench fuzz clean help deps
all: $(BINS) $(CLIENT_LIB)

help:
	@echo "make            build $(BINS) $(CLIENT_LIB)"
	@echo "make demo       run the demo (4 validators and a replica: publish, eligibility, revoke)"
	@echo "make check      run all tests (layout + unit + functional)"
	@echo "make layout     check who may include and call whom (scripts/check-layout)"
	@echo "make asan       run all tests under AddressSanitizer + UBSan (build-asan/)"
	@echo "make tsan       run the functional tests under ThreadSanitizer (build-tsan/)"
	@echo "make check-long the consensus simulator over 100,000 seeds, then the full fault suite"
	@echo "make bench      run the benchmarks (see docs/PERFORMANCE.md)"
	@echo "make fuzz       build and briefly run the libFuzzer targets (clang)"

deps:
	sh scripts/install-deps

$(PROTO_C) $(PROTO_H): proto/fwledger.proto proto/fwledger.options
	@mkdir -p $(BUILD)/proto
	@echo "  NANOPB  $<"
	$(Q)$(PYTHON) $$(command -v nanopb_generator.py) -q -I proto -D $(BUILD)/proto $<

$(BUILD)/obj/proto/fwledger.pb.o: $(PROTO_C)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(CLIENT_LIB): $(CLIENT_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/fwledgerd: $(BUILD)/obj/node/daemon/fwledgerd.o $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/fwledger: $(BUILD)/obj/node/tool/main.o $(TOOL_OBJS) $(FILES_OBJS) $(CLIENT_LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(TOOL_LDLIBS)

$(BUILD)/tests/%: tests/%.c $(LIB) $(PROTO_H)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(TEST_LIBS) $(LDLIBS)

unit: $(TESTS)
	@set -e; for t in $(TESTS); do echo "  TEST    $$t"; $$t >$$t.log 2>&1 || { cat $$t.log; echo "FAILED: $$t"; exit 1; }; done
	@echo "unit tests: $(words $(TESTS)) passed"

$(BUILD)/tests/functional/%: tests/functional/%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# A tracker program: the client library's archive and its few libraries, nothing else.
$(BUILD)/tests/functional/eligible_query: tests/functional/eligible_query.c $(CLIENT_LIB)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(CLIENT_LIB) $(CLIENT_LDLIBS)

functional: $(BINS) $(FUNC_PROGS) $(BUILD)/bench_client
	@set -e; for t in $(FUNC_TESTS); do echo "  FUNC    $$t"; BUILD=$(BUILD) bash $$t || { echo "FAILED: $$t"; exit 1; }; done
	@echo "functional tests: $(words $(FUNC_TESTS)) passed"

# Who may include and call whom (docs/architecture.md): module arrows, internal headers, no
# include cycle in node/, no call cycle between node/ components (from the objects' symbols).
# tests/functional/test_layout.sh checks the checker.
layout: $(LIB_OBJS) $(TOOL_OBJS) $(BUILD)/obj/node/daemon/fwledgerd.o $(BUILD)/obj/node/tool/main.o
	$(Q)$(PYTHON) scripts/check-layout --objects $(BUILD)/obj

check: layout unit functional

# The consensus simulator over 100,000 seeds on both cores (see docs/consensus.md);
# SIM_SEEDS, SIM_FIRST and SIM_JOBS override. Then the full fault suite (docs/testing.md):
# a real cluster through every fault kind for FAULTS_DURATION seconds (default 240), with
# the seed FAULTS_SEED (default: drawn and printed); FAULTS_ARGS adds options.
.PHONY: check-long
check-long: $(BUILD)/tests/consensus/test_simulator $(BINS) $(BUILD)/tests/functional/fault_client
	$(Q)SIM_SEEDS=$${SIM_SEEDS:-100000} SIM_JOBS=$${SIM_JOBS:-2} $< --sim-only
	$(Q)BUILD=$(BUILD) nice -n 5 bash scripts/faults $${FAULTS_SEED:+--seed $$FAULTS_SEED} \
	  --duration $${FAULTS_DURATION:-240} $${FAULTS_ARGS:-}

demo: $(BINS)
	$(Q)BUILD=$(BUILD) bash scripts/demo

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" check

# The functional tests (real node processes: the loop, the verification pool, the
# eligibility worker) under ThreadSanitizer; a race stops the node (exit 66) and fails them.
tsan:
	TSAN_OPTIONS="halt_on_error=1 exitcode=66 $${TSAN_OPTIONS:-}" $(MAKE) BUILD=build-tsan \
	  OPT="-O1 -g" EXTRA_CFLAGS="-fsanitize=thread" EXTRA_LDFLAGS="-fsanitize=thread" functional

bench: $(BINS) $(BUILD)/bench_client $(BUILD)/bench_store
	$(Q)BUILD=$(BUILD) bash scripts/bench

$(BUILD)/bench_client: scripts/bench_client.c $(LIB)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/bench_store: scripts/bench_store.c $(LIB)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# Fuzzing: clang's libFuzzer (packages clang and libclang-rt-14-dev; `make check` does not need
# them). Each tests/fuzz/fuzz_<name>.c runs for FUZZ_SECONDS on build-fuzz/corpus/<name>
# (seeded from tests/fuzz/corpus/<name>/ when present, plus what the target writes itself),
# with tests/fuzz/fuzz_<name>.dict when present, one target at a time. Any crash or
# sanitizer report fails the run after all targets ran; the input is kept as
# build-fuzz/crashes/<name>-crash-* (reproduce: build-fuzz/<name> <that file>).
# FUZZ_TARGETS=fuzz_semver runs a subset.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 20
FUZZ_MAX_LEN ?= 20000
FUZZ_TARGETS ?= $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SAN     := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
fuzz:
	@mkdir -p build-fuzz/crashes
	@printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' \
	  >build-fuzz/probe.c
	@$(FUZZ_CC) $(FUZZ_SAN) -o build-fuzz/probe build-fuzz/probe.c >build-fuzz/probe.log 2>&1 || { \
	  cat build-fuzz/probe.log; \
	  echo "make fuzz: '$(FUZZ_CC) -fsanitize=fuzzer' does not work here. Install clang and its"; \
	  echo "libFuzzer runtime (Debian/Ubuntu: apt-get install -y clang libclang-rt-14-dev)."; \
	  exit 1; }
	$(Q)$(MAKE) --no-print-directory BUILD=build-fuzz CC=$(FUZZ_CC) OPT="-O1 -g -fno-omit-frame-pointer" \
	  EXTRA_CFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" build-fuzz/libfwl.a
	@failed=""; for n in $(FUZZ_TARGETS); do \
	  echo "  CC      tests/fuzz/$$n.c"; \
	  $(FUZZ_CC) -I. -Ibuild-fuzz/proto -D_GNU_SOURCE -std=c11 -O1 -g -fno-omit-frame-pointer $(WARN) \
	    $(FUZZ_SAN) -o build-fuzz/$$n tests/fuzz/$$n.c build-fuzz/libfwl.a $(LDLIBS) || exit 1; \
	  mkdir -p build-fuzz/corpus/$$n; \
	  if [ -d tests/fuzz/corpus/$$n ]; then cp -R tests/fuzz/corpus/$$n/. build-fuzz/corpus/$$n/; fi; \
	  dict=; if [ -f tests/fuzz/$$n.dict ]; then dict=-dict=tests/fuzz/$$n.dict; fi; \
	  echo "  FUZZ    $$n ($(FUZZ_SECONDS)s)"; \
	  if UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 build-fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) -print_final_stats=1 \
	       -artifact_prefix=build-fuzz/crashes/$$n- $$dict build-fuzz/corpus/$$n >build-fuzz/$$n.log 2>&1; then \
	    grep -E '^#[0-9]+[[:space:]]+DONE' build-fuzz/$$n.log | tail -1 | sed 's/^/          /'; \
	    grep -E '^stat::(number_of_executed_units|average_exec_per_sec):' build-fuzz/$$n.log | sed 's/^/          /'; \
	  else \
	    tail -50 build-fuzz/$$n.log; \
	    echo "FUZZ FAILED: $$n (log build-fuzz/$$n.log, input in build-fuzz/crashes/)"; \
	    failed="$$failed $$n"; \
	  fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed"; exit 1; fi; echo "fuzz: $(words $(FUZZ_TARGETS)) targets ran clean"

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
