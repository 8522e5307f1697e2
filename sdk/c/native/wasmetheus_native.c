/* wasmetheus_native.c: the simulated host of wasmetheus_native.h: the
 * host imports of the `exporter` world at the canonical-ABI level (the
 * generated exporter.c lowers calls to them), a resource table for
 * collectors, and calls of the plugin's lowered exports followed by their
 * post-return functions. Native pointers are 64-bit: the generated code
 * sizes its return areas with sizeof(void*), so the layouts below are the
 * ones the generated code reads and writes. */
#include "wasmetheus_native.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define WM_NATIVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WM_NATIVE_ASAN 1
#endif
#endif
#ifdef WM_NATIVE_ASAN
/* From <sanitizer/allocator_interface.h>, which not every compiler ships. */
size_t __sanitizer_get_current_allocated_bytes(void);
#else
#include <malloc.h>
#endif

/* The lowered exports of the generated exporter.c (not in exporter.h). */
uint8_t *__wasm_export_exports_wasmetheus_plugin_metrics_metadata(void);
void __wasm_export_exports_wasmetheus_plugin_metrics_metadata_post_return(uint8_t *);
uint8_t *__wasm_export_exports_wasmetheus_plugin_metrics_static_collector_open(uint8_t *, size_t);
void __wasm_export_exports_wasmetheus_plugin_metrics_static_collector_open_post_return(uint8_t *);
uint8_t *__wasm_export_exports_wasmetheus_plugin_metrics_method_collector_collect(uint8_t *);
void __wasm_export_exports_wasmetheus_plugin_metrics_method_collector_collect_post_return(
    uint8_t *);
void __wasm_export_exports_wasmetheus_plugin_metrics_collector_dtor(
    exports_wasmetheus_plugin_metrics_collector_t *);
void *cabi_realloc(void *ptr, size_t old_size, size_t align, size_t new_size);

#define WORD sizeof(void *)

/* ---- Grants, instance name, log ---------------------------------------- */

static char *grants[64];
static size_t grant_count;
static bool grants_set;
static char instance_name[256] = "native";
static char last_log[4096];
static int last_log_level = -1;
static size_t log_count;

void wm_native_grant(const char *path) {
    if (grant_count < sizeof grants / sizeof *grants) {
        grants[grant_count++] = strdup(path);
    }
    grants_set = true;
}

void wm_native_clear_grants(void) {
    for (size_t i = 0; i < grant_count; i++) {
        free(grants[i]);
    }
    grant_count = 0;
    grants_set = true;
}

void wm_native_set_instance_name(const char *name) {
    snprintf(instance_name, sizeof instance_name, "%s", name);
}

size_t wm_native_log_count(void) {
    return log_count;
}

const char *wm_native_last_log(void) {
    return last_log;
}

int wm_native_last_log_level(void) {
    return last_log_level;
}

/* A malloc'd copy, as the host's lowering into guest memory (cabi_realloc). */
static uint8_t *guest_copy(const char *text, size_t n) {
    if (n == 0) {
        return NULL;
    }
    uint8_t *p = cabi_realloc(NULL, 0, 1, n);
    memcpy(p, text, n);
    return p;
}

void __wasm_import_wasmetheus_plugin_host_log(int32_t level, uint8_t *ptr, size_t len) {
    size_t n = len < sizeof last_log - 1 ? len : sizeof last_log - 1;
    memcpy(last_log, ptr, n);
    last_log[n] = '\0';
    last_log_level = level;
    log_count++;
    if (getenv("WASMETHEUS_NATIVE_LOG") != NULL) {
        fprintf(stderr, "[plugin log %d] %s\n", level, last_log);
    }
}

void __wasm_import_wasmetheus_plugin_host_filesystem_usage(uint8_t *ptr, size_t len,
                                                           uint8_t *ret) {
    (void)ptr;
    (void)len;
    static const char message[] = "filesystem usage needs the wasmetheus host";
    ret[0] = 1;                                    /* err */
    ret[8] = WASMETHEUS_PLUGIN_TYPES_ERROR_UNAVAILABLE;
    *(uint8_t **)(ret + 8 + WORD) = guest_copy(message, sizeof message - 1);
    *(size_t *)(ret + 8 + 2 * WORD) = sizeof message - 1;
}

void __wasm_import_wasmetheus_plugin_host_instance_name(uint8_t *ret) {
    size_t n = strlen(instance_name);
    *(uint8_t **)ret = guest_copy(instance_name, n);
    *(size_t *)(ret + WORD) = n;
}

void __wasm_import_wasmetheus_plugin_host_granted_read_paths(uint8_t *ret) {
    const char *all = "/";
    size_t n = grants_set ? grant_count : 1;
    exporter_string_t *list = n ? cabi_realloc(NULL, 0, WORD, n * sizeof *list) : NULL;
    for (size_t i = 0; i < n; i++) {
        const char *g = grants_set ? grants[i] : all;
        list[i].ptr = guest_copy(g, strlen(g));
        list[i].len = strlen(g);
    }
    *(uint8_t **)ret = (uint8_t *)list;
    *(size_t *)(ret + WORD) = n;
}

/* ---- The collector resource table --------------------------------------- */

static exports_wasmetheus_plugin_metrics_collector_t *reps[1024];

exports_wasmetheus_plugin_metrics_own_collector_t exports_wasmetheus_plugin_metrics_collector_new(
    exports_wasmetheus_plugin_metrics_collector_t *rep) {
    for (int32_t i = 0; i < 1024; i++) {
        if (reps[i] == NULL) {
            reps[i] = rep;
            return (exports_wasmetheus_plugin_metrics_own_collector_t){i + 1};
        }
    }
    fprintf(stderr, "wasmetheus_native: more than 1024 open instances\n");
    abort();
}

exports_wasmetheus_plugin_metrics_collector_t *exports_wasmetheus_plugin_metrics_collector_rep(
    exports_wasmetheus_plugin_metrics_own_collector_t handle) {
    if (handle.__handle < 1 || handle.__handle > 1024 || reps[handle.__handle - 1] == NULL) {
        fprintf(stderr, "wasmetheus_native: no instance %d\n", handle.__handle);
        abort();
    }
    return reps[handle.__handle - 1];
}

void exports_wasmetheus_plugin_metrics_collector_drop_own(
    exports_wasmetheus_plugin_metrics_own_collector_t handle) {
    wm_native_drop(handle.__handle);
}

/* The generated 32-bit resource intrinsics, renamed away natively. */
#define WM_NATIVE_UNUSED(name)                                                            \
    int32_t name(int32_t x) {                                                             \
        (void)x;                                                                          \
        fprintf(stderr, "wasmetheus_native: %s called natively\n", #name);                \
        abort();                                                                          \
    }
WM_NATIVE_UNUSED(__wasm_import_exports_wasmetheus_plugin_metrics_collector_new)
WM_NATIVE_UNUSED(__wasm_import_exports_wasmetheus_plugin_metrics_collector_rep)
void __wasm_import_exports_wasmetheus_plugin_metrics_collector_drop(int32_t handle) {
    (void)handle;
    abort();
}
void __component_type_object_force_link_exporter(void) {}

/* ---- Calls -------------------------------------------------------------- */

/* The return area of the last call whose post-return has not run. */
static uint8_t *pending;
static void (*pending_post_return)(uint8_t *);

void wm_native_release(void) {
    if (pending != NULL) {
        pending_post_return(pending);
        pending = NULL;
    }
}

const wasmetheus_plugin_types_plugin_metadata_t *wm_native_metadata(void) {
    wm_native_release();
    pending = __wasm_export_exports_wasmetheus_plugin_metrics_metadata();
    pending_post_return = __wasm_export_exports_wasmetheus_plugin_metrics_metadata_post_return;
    /* The return area is laid out as the record. */
    return (const wasmetheus_plugin_types_plugin_metadata_t *)pending;
}

/* The error of a result area (tag at 0 is 1). */
static void read_error(const uint8_t *area, wm_native_result *r) {
    r->ok = false;
    r->error_kind = area[WORD];
    const uint8_t *ptr = *(uint8_t *const *)(area + 2 * WORD);
    size_t len = *(const size_t *)(area + 3 * WORD);
    size_t n = len < sizeof r->error - 1 ? len : sizeof r->error - 1;
    if (n > 0) {
        memcpy(r->error, ptr, n);
    }
    r->error[n] = '\0';
}

wm_native_result wm_native_open(const char *config) {
    wm_native_release();
    wm_native_result r;
    memset(&r, 0, sizeof r);
    size_t n = strlen(config);
    uint8_t *arg = guest_copy(config, n);
    uint8_t *area = __wasm_export_exports_wasmetheus_plugin_metrics_static_collector_open(arg, n);
    if (area[0] == 0) {
        r.ok = true;
        r.handle = *(int32_t *)(area + WORD);
    } else {
        read_error(area, &r);
    }
    __wasm_export_exports_wasmetheus_plugin_metrics_static_collector_open_post_return(area);
    return r;
}

wm_native_result wm_native_collect(int32_t handle) {
    wm_native_release();
    wm_native_result r;
    memset(&r, 0, sizeof r);
    exports_wasmetheus_plugin_metrics_collector_t *rep =
        exports_wasmetheus_plugin_metrics_collector_rep(
            (exports_wasmetheus_plugin_metrics_own_collector_t){handle});
    uint8_t *area =
        __wasm_export_exports_wasmetheus_plugin_metrics_method_collector_collect((uint8_t *)rep);
    if (area[0] == 0) {
        r.ok = true;
        r.families = *(wasmetheus_plugin_types_metric_family_t **)(area + WORD);
        r.family_count = *(size_t *)(area + 2 * WORD);
    } else {
        read_error(area, &r);
    }
    pending = area;
    pending_post_return =
        __wasm_export_exports_wasmetheus_plugin_metrics_method_collector_collect_post_return;
    return r;
}

void wm_native_drop(int32_t handle) {
    wm_native_release();
    exports_wasmetheus_plugin_metrics_collector_t *rep =
        exports_wasmetheus_plugin_metrics_collector_rep(
            (exports_wasmetheus_plugin_metrics_own_collector_t){handle});
    reps[handle - 1] = NULL;
    __wasm_export_exports_wasmetheus_plugin_metrics_collector_dtor(rep);
}

const wasmetheus_plugin_types_metric_family_t *wm_native_family(const wm_native_result *r,
                                                                const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < r->family_count; i++) {
        const exporter_string_t *s = &r->families[i].name;
        if (s->len == n && memcmp(s->ptr, name, n) == 0) {
            return &r->families[i];
        }
    }
    return NULL;
}

const char *wm_native_str(const exporter_string_t *s, char *buf, size_t size) {
    size_t n = s->len < size - 1 ? s->len : size - 1;
    if (n > 0) {
        memcpy(buf, s->ptr, n);
    }
    buf[n] = '\0';
    return buf;
}

size_t wm_native_live_bytes(void) {
#ifdef WM_NATIVE_ASAN
    return __sanitizer_get_current_allocated_bytes();
#else
    return mallinfo2().uordblks;
#endif
}
