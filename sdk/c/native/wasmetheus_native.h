/* wasmetheus_native.h: the wasmetheus host, simulated natively, so a C
 * plugin is tested with the host's compiler (and sanitizers) before it is
 * built for wasm32. It stands in for the host's imports (log, grants,
 * instance name, filesystem usage) and for the canonical-ABI resource
 * table, and calls the plugin through the generated export functions and
 * their post-return functions, exactly as the host does: what a test sees
 * is what the host would copy, and what the post-return frees is what the
 * plugin allocated (run under LeakSanitizer, a leak fails the test).
 *
 * Built by sdk/c/plugin.mk's `test` target together with the generated
 * exporter.c (compiled natively with its resource functions renamed away,
 * see plugin.mk). */
#ifndef WASMETHEUS_NATIVE_H
#define WASMETHEUS_NATIVE_H

#include "exporter.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Adds a read-only grant (a directory). Until the first call, every path
 * is granted; after it, wm_read_file outside the grants fails as `denied`,
 * as in the host, before opening the file. */
void wm_native_grant(const char *path);
/* Removes every grant (then nothing is granted until wm_native_grant). */
void wm_native_clear_grants(void);
void wm_native_set_instance_name(const char *name);

/* Lines the plugin logged: how many, and the last one and its level. */
size_t wm_native_log_count(void);
const char *wm_native_last_log(void);
int wm_native_last_log_level(void);

/* The plugin's metadata, valid until wm_native_release(). */
const wasmetheus_plugin_types_plugin_metadata_t *wm_native_metadata(void);

/* What an open or a collect returned. */
typedef struct wm_native_result {
    bool ok;
    int32_t handle; /* open: the instance */
    const wasmetheus_plugin_types_metric_family_t *families; /* collect */
    size_t family_count;
    int error_kind;    /* WASMETHEUS_PLUGIN_TYPES_ERROR_* */
    char error[2048];  /* the message, NUL-terminated (copied) */
} wm_native_result;

/* Opens an instance with the JSON `config` (passed as the host does: in
 * memory from cabi_realloc, owned by the plugin from then on). */
wm_native_result wm_native_open(const char *config);
/* Collects `handle`; the families stay valid until wm_native_release(). */
wm_native_result wm_native_collect(int32_t handle);
/* Runs the post-return function of the last metadata or collect call. */
void wm_native_release(void);
/* Drops the instance (its destructor runs). */
void wm_native_drop(int32_t handle);

/* The family `name` of a collect, or NULL. */
const wasmetheus_plugin_types_metric_family_t *wm_native_family(const wm_native_result *r,
                                                                const char *name);
/* A string of the WIT as a NUL-terminated copy in `buf` (cut to fit). */
const char *wm_native_str(const exporter_string_t *s, char *buf, size_t size);

/* Bytes currently allocated by the process (ASan's count when built with
 * AddressSanitizer, else glibc's mallinfo2), to check that repeated
 * collects do not grow. */
size_t wm_native_live_bytes(void);

#endif
