# sdk/c/plugin.mk: builds a wasmetheus exporter written in C into a
# component, and runs its native tests. A plugin's Makefile sets
#
#   NAME      the plugin's name (the component is $(NAME).wasm)
#   SRCS      its C sources (one of them defines WASMETHEUS_IMPLEMENTATION)
#   TESTS     native test programs (each a .c file with a main), optional
#   TEST_ARGS arguments given to each test program, optional
#
# then includes this file. Targets: `all` (the component, $(OUT)), `test`
# (the native tests, under AddressSanitizer and UBSan), `clean`.
#
# Tools: Debian's clang, lld, wasi-libc and libclang-rt-dev-wasm32 (apt),
# wit-bindgen and wasm-tools (cargo install), and WASI's preview1 reactor
# adapter; `cargo xtask toolchains` installs all but the apt packages under
# $WASMETHEUS_TOOLS (default ~/.cache/wasmetheus/tools).

WASMETHEUS_SDK := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
WASMETHEUS_WIT ?= $(WASMETHEUS_SDK)/../../wit
WASMETHEUS_TOOLS ?= $(HOME)/.cache/wasmetheus/tools
# The adapter matches the host's wasmtime (48); see xtask/src/lang/c.rs.
WASMETHEUS_ADAPTER ?= $(WASMETHEUS_TOOLS)/c-48.0.8/wasi_snapshot_preview1.reactor.wasm
WIT_BINDGEN ?= $(WASMETHEUS_TOOLS)/cargo/bin/wit-bindgen
WASM_TOOLS ?= $(WASMETHEUS_TOOLS)/cargo/bin/wasm-tools
WASM_CC ?= clang
NATIVE_CC ?= cc
BUILD ?= build
OUT ?= $(BUILD)/$(NAME).wasm

WASM_CFLAGS ?= -Oz
# wasi-libc comes with DWARF: strip it (function names stay, for traces).
WASM_LDFLAGS ?= -Wl,--strip-debug
WARNINGS := -Wall -Wextra -Werror
NATIVE_CFLAGS ?= -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer

BINDINGS := $(BUILD)/bindings
GENERATED := $(BINDINGS)/exporter.h $(BINDINGS)/exporter.c $(BINDINGS)/exporter_component_type.o
INCLUDES := -I$(BINDINGS) -I$(WASMETHEUS_SDK) -I$(WASMETHEUS_SDK)/native
NATIVE := $(BUILD)/native
TEST_BINS := $(patsubst %.c,$(NATIVE)/%,$(notdir $(TESTS)))

# Natively, the generated 32-bit resource intrinsics are renamed away and
# the simulated host's versions used (see native/wasmetheus_native.h).
NATIVE_RENAMES := \
	-Dexports_wasmetheus_plugin_metrics_collector_new=wm_native_generated_collector_new \
	-Dexports_wasmetheus_plugin_metrics_collector_rep=wm_native_generated_collector_rep \
	-Dexports_wasmetheus_plugin_metrics_collector_drop_own=wm_native_generated_collector_drop

.PHONY: all test clean
all: $(OUT)

$(BINDINGS)/exporter.h: $(wildcard $(WASMETHEUS_WIT)/*.wit)
	@test -x "$(WIT_BINDGEN)" || { echo "$(WIT_BINDGEN) is missing: run \`cargo xtask toolchains\`, or \`cargo install --locked --root $(WASMETHEUS_TOOLS)/cargo wit-bindgen-cli@0.46.0 --no-default-features --features c\`" >&2; exit 1; }
	@mkdir -p $(BINDINGS)
	$(WIT_BINDGEN) c $(WASMETHEUS_WIT) --world exporter --out-dir $(BINDINGS) \
	  >$(BINDINGS)/wit-bindgen.log 2>&1 || { cat $(BINDINGS)/wit-bindgen.log >&2; exit 1; }
$(BINDINGS)/exporter.c $(BINDINGS)/exporter_component_type.o: $(BINDINGS)/exporter.h

$(BUILD)/$(NAME).core.wasm: $(SRCS) $(GENERATED) $(wildcard $(WASMETHEUS_SDK)/*.h) $(MAKEFILE_LIST)
	@command -v $(WASM_CC) >/dev/null && test -f /usr/include/wasm32-wasi/stdio.h -o -n "$(WASI_SYSROOT)" \
	  || { echo "clang for wasm32-wasi is missing: apt-get install clang lld wasi-libc libclang-rt-dev-wasm32" >&2; exit 1; }
	$(WASM_CC) --target=wasm32-wasi -mexec-model=reactor $(if $(WASI_SYSROOT),--sysroot=$(WASI_SYSROOT)) \
	  $(WASM_CFLAGS) $(WARNINGS) $(INCLUDES) $(SRCS) $(BINDINGS)/exporter.c \
	  $(BINDINGS)/exporter_component_type.o $(WASM_LDFLAGS) -o $@

$(OUT): $(BUILD)/$(NAME).core.wasm
	@test -f "$(WASMETHEUS_ADAPTER)" || { echo "$(WASMETHEUS_ADAPTER) is missing: run \`cargo xtask toolchains\`" >&2; exit 1; }
	@mkdir -p $(dir $(OUT))
	$(WASM_TOOLS) component new $< --adapt wasi_snapshot_preview1=$(WASMETHEUS_ADAPTER) -o $@
	$(WASM_TOOLS) validate $@

$(NATIVE)/exporter.o: $(BINDINGS)/exporter.c $(BINDINGS)/exporter.h
	@mkdir -p $(NATIVE)
	$(NATIVE_CC) $(NATIVE_CFLAGS) -w $(NATIVE_RENAMES) -I$(BINDINGS) -c $< -o $@

$(NATIVE)/wasmetheus_native.o: $(WASMETHEUS_SDK)/native/wasmetheus_native.c \
		$(WASMETHEUS_SDK)/native/wasmetheus_native.h $(BINDINGS)/exporter.h
	@mkdir -p $(NATIVE)
	$(NATIVE_CC) $(NATIVE_CFLAGS) $(WARNINGS) -std=gnu11 $(INCLUDES) -c $< -o $@

define wm_native_test
$(NATIVE)/$(basename $(notdir $(1))): $(1) $(SRCS) $(NATIVE)/exporter.o \
		$(NATIVE)/wasmetheus_native.o $(wildcard $(WASMETHEUS_SDK)/*.h)
	$$(NATIVE_CC) $$(NATIVE_CFLAGS) $$(WARNINGS) -std=gnu11 $$(INCLUDES) $(1) $$(SRCS) \
	  $$(NATIVE)/exporter.o $$(NATIVE)/wasmetheus_native.o -o $$@
endef
$(foreach t,$(TESTS),$(eval $(call wm_native_test,$(t))))

test: $(TEST_BINS)
	@for t in $(TEST_BINS); do echo "$$t $(TEST_ARGS)"; $$t $(TEST_ARGS) || exit 1; done

clean:
	rm -rf $(BUILD)
