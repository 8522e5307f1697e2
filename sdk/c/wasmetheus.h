/* wasmetheus.h: write wasmetheus exporter plugins in C.
 *
 * A header-only helper (this file and wasmetheus_config.h) over the
 * bindings `wit-bindgen c` generates for the `exporter` world of
 * wit/plugin.wit (`exporter.h`, `exporter.c`, `exporter_component_type.o`,
 * generated at build time by sdk/c/plugin.mk).
 * A plugin describes itself with a `wm_plugin` (name, version, config
 * schema, requested capabilities, and its open/collect/close callbacks),
 * builds metrics with the `wm_registry` builder, reads its settings with
 * `wm_config_*` and granted files with `wm_read_file`:
 *
 *     #define WASMETHEUS_IMPLEMENTATION   // in exactly one .c file
 *     #include "wasmetheus.h"
 *
 *     static int hello_collect(void *state, wm_registry *out, wm_error *err) {
 *         (void)state, (void)err;
 *         wm_set(wm_gauge(out, "hello_world", "Always one."), 1);
 *         return 0;
 *     }
 *     static const wm_plugin hello = {
 *         .name = "hello", .version = "0.1.0", .description = "Says hello",
 *         .collect = hello_collect,
 *     };
 *     WM_EXPORT_PLUGIN(hello)
 *
 * Memory: everything the SDK hands to the host (metadata, metric families,
 * error messages) is allocated with malloc and freed by the generated
 * canonical-ABI post-return functions after the host has copied it; the
 * config string the host passes to `open` is freed by the SDK once `open`
 * returns, so `open` keeps copies (`wm_config_string` returns them). An
 * empty string or list is never allocated (the post-return functions free
 * only non-empty ones). Callbacks return 0 on success, or -1 after filling
 * `err` with `wm_fail`.
 */
#ifndef WASMETHEUS_H
#define WASMETHEUS_H

#include "exporter.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Errors ------------------------------------------------------------ */

/* What went wrong (the `error` variant of the WIT, in its order). */
typedef enum wm_error_kind {
    WM_INVALID_CONFIG = WASMETHEUS_PLUGIN_TYPES_ERROR_INVALID_CONFIG, /* say how to fix it */
    WM_DENIED = WASMETHEUS_PLUGIN_TYPES_ERROR_DENIED,                 /* name the grant */
    WM_UNAVAILABLE = WASMETHEUS_PLUGIN_TYPES_ERROR_UNAVAILABLE,       /* may work later */
    WM_OTHER = WASMETHEUS_PLUGIN_TYPES_ERROR_OTHER,
} wm_error_kind;

#define WM_ERROR_MAX 1024

typedef struct wm_error {
    wm_error_kind kind;
    /* errno of a failed file operation, else 0 (e.g. ENOENT: absent). */
    int code;
    char message[WM_ERROR_MAX];
} wm_error;

/* Fills `err` (message cut at WM_ERROR_MAX bytes) and returns -1. */
int wm_fail(wm_error *err, wm_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- Logging ----------------------------------------------------------- */

typedef enum wm_log_level {
    WM_LOG_TRACE = WASMETHEUS_PLUGIN_TYPES_LOG_LEVEL_TRACE,
    WM_LOG_DEBUG = WASMETHEUS_PLUGIN_TYPES_LOG_LEVEL_DEBUG,
    WM_LOG_INFO = WASMETHEUS_PLUGIN_TYPES_LOG_LEVEL_INFO,
    WM_LOG_WARN = WASMETHEUS_PLUGIN_TYPES_LOG_LEVEL_WARN,
    /* During `collect`, an error line also becomes the instance's
     * last_collect_error in /api/v1/plugins, even when collect succeeds. */
    WM_LOG_ERROR = WASMETHEUS_PLUGIN_TYPES_LOG_LEVEL_ERROR,
} wm_log_level;

/* Writes a printf-formatted line (at most 4 KiB) to the host's log. */
void wm_log(wm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- Metrics ----------------------------------------------------------- */

/* The metrics one `collect` produces: families in insertion order. */
typedef struct wm_registry {
    exports_wasmetheus_plugin_metrics_list_metric_family_t families;
    size_t capacity;
    /* Index of `families` by name: slot = family index + 1, 0 = empty. */
    size_t *index;
    size_t index_size;
    /* Set when an allocation failed: later calls do nothing and collect
     * fails with "out of memory". */
    bool failed;
} wm_registry;

/* One family of a registry (valid as long as the registry). */
typedef struct wm_family {
    wm_registry *registry;
    size_t index;
} wm_family;

typedef struct wm_label {
    const char *name;
    const char *value;
} wm_label;

typedef wasmetheus_plugin_types_bucket_t wm_bucket;     /* {upper_bound, cumulative_count} */
typedef wasmetheus_plugin_types_quantile_t wm_quantile; /* {quantile, value} */

/* `WM_LABELS({"cpu", "0"}, {"mode", "idle"})`: the labels and their count,
 * as the two arguments `labels, count` of wm_add and friends. */
#define WM_LABELS(...)                                                                    \
    ((const wm_label[]){__VA_ARGS__}),                                                    \
        (sizeof((const wm_label[]){__VA_ARGS__}) / sizeof(wm_label))

/* The family `name`, created with its kind and help on first use; later
 * calls with the same name add series to the same family. A counter `foo`
 * is exposed as `foo_total` unless its name already ends in `_total`
 * (`foo_total` stays `foo_total`); an info family `foo` as `foo_info`
 * unless it already ends in `_info`. */
wm_family wm_counter(wm_registry *r, const char *name, const char *help);
wm_family wm_gauge(wm_registry *r, const char *name, const char *help);
wm_family wm_untyped(wm_registry *r, const char *name, const char *help);
wm_family wm_histogram(wm_registry *r, const char *name, const char *help);
wm_family wm_summary(wm_registry *r, const char *name, const char *help);
/* Series valued 1 whose labels carry the information. */
wm_family wm_info(wm_registry *r, const char *name, const char *help);

/* Sets the OpenMetrics unit (e.g. "seconds"). */
void wm_unit(wm_family f, const char *unit);
/* Adds a series without labels. */
void wm_set(wm_family f, double value);
/* Adds a series with `count` labels. */
void wm_add(wm_family f, const wm_label *labels, size_t count, double value);
/* Adds an info series (value 1). */
void wm_add_info(wm_family f, const wm_label *labels, size_t count);
/* Adds a histogram series: cumulative buckets sorted by upper bound (the
 * host adds +Inf from `observations` when missing). */
void wm_add_histogram(wm_family f, const wm_label *labels, size_t count, const wm_bucket *buckets,
                      size_t bucket_count, uint64_t observations, double sum);
/* Adds a summary series. */
void wm_add_summary(wm_family f, const wm_label *labels, size_t count,
                    const wm_quantile *quantiles, size_t quantile_count, uint64_t observations,
                    double sum);

/* The family called `name`, or NULL (for tests). */
const wasmetheus_plugin_types_metric_family_t *wm_registry_find(const wm_registry *r,
                                                                const char *name);
/* Frees everything the registry holds (the SDK does it for `collect`). */
void wm_registry_free(wm_registry *r);

/* ---- Configuration ----------------------------------------------------- */

/* The instance's configuration: a JSON object, validated before `open`
 * (at most WM_CONFIG_MAX bytes and WM_CONFIG_DEPTH levels of nesting;
 * `""` counts as `{}`). `json` is NUL-terminated and lives until `open`
 * returns. */
typedef struct wm_config {
    const char *json;
    size_t len;
} wm_config;

#define WM_CONFIG_MAX (1u << 20)
#define WM_CONFIG_DEPTH 64
#define WM_CONFIG_MAX_KEYS 1024
#define WM_CONFIG_MAX_KEY 1024

/* Validates `json` (len bytes) as an object (`""` is `{}`); otherwise an
 * invalid-config error: over WM_CONFIG_MAX bytes, "config is not valid
 * JSON: … at line L column C", a key given twice in any object, not an
 * object. */
int wm_config_parse(wm_config *config, const char *json, size_t len, wm_error *err);
/* Fails naming the first top-level key that is not in `known` (a
 * NULL-terminated list), and listing the known ones. */
int wm_config_only(const wm_config *config, const char *const *known, wm_error *err);
/* The string setting `key`: 1 and a malloc'd copy in `*out` (free it), 0
 * when absent or null, -1 when it is not a string (or holds \u0000). */
int wm_config_string(const wm_config *config, const char *key, char **out, wm_error *err);
/* The boolean setting `key`: 1 and `*out`, 0 when absent or null, -1 when
 * not a boolean. */
int wm_config_bool(const wm_config *config, const char *key, bool *out, wm_error *err);
/* The number setting `key`: 1 and `*out`, 0 when absent or null, -1 when
 * not a number. */
int wm_config_number(const wm_config *config, const char *key, double *out, wm_error *err);

/* ---- Files and host ---------------------------------------------------- */

/* A file's contents, NUL-terminated (`len` excludes the NUL). */
typedef struct wm_buffer {
    char *data;
    size_t len;
} wm_buffer;

/* Reads the whole file `path` (absolute, at most `max_bytes`). A path
 * outside every read-only grant fails as WM_DENIED naming a directory to
 * grant (checked before opening, so natively too once a test has set
 * grants); a missing file as WM_UNAVAILABLE with `code` ENOENT; a larger
 * file as WM_UNAVAILABLE; a relative path, or one with a `..` component,
 * as WM_OTHER. Works for /proc files (whose size reads as 0). */
int wm_read_file(const char *path, size_t max_bytes, wm_buffer *out, wm_error *err);
void wm_buffer_free(wm_buffer *buffer);

/* Whether `path` (absolute) lies under one of the host's read-only grants,
 * lexically: `..` never climbs out of a grant. */
bool wm_path_granted(const char *path);

/* The instance's name (malloc'd; free it). */
char *wm_instance_name(void);

typedef wasmetheus_plugin_host_mount_usage_t wm_mount_usage;
/* Usage of the file system mounted at `mount_point` (needs a
 * filesystem_usage grant covering it). */
int wm_filesystem_usage(const char *mount_point, wm_mount_usage *out, wm_error *err);

/* ---- The plugin -------------------------------------------------------- */

typedef enum wm_capability {
    WM_READ_PATH = WASMETHEUS_PLUGIN_TYPES_CAPABILITY_READ_PATH,
    WM_TCP_CONNECT = WASMETHEUS_PLUGIN_TYPES_CAPABILITY_TCP_CONNECT,
    WM_HTTP_ORIGIN = WASMETHEUS_PLUGIN_TYPES_CAPABILITY_HTTP_ORIGIN,
    WM_ENV_VAR = WASMETHEUS_PLUGIN_TYPES_CAPABILITY_ENV_VAR,
    WM_DNS_LOOKUP = WASMETHEUS_PLUGIN_TYPES_CAPABILITY_DNS_LOOKUP, /* no target */
    WM_FILESYSTEM_USAGE = WASMETHEUS_PLUGIN_TYPES_CAPABILITY_FILESYSTEM_USAGE,
} wm_capability;

/* A capability the plugin asks the operator for, and why. Requesting
 * grants nothing; an `optional` one may be left out at some cost. */
typedef struct wm_capability_request {
    wm_capability capability;
    const char *target; /* the path, address, origin or variable */
    const char *reason;
    bool optional;
} wm_capability_request;

typedef struct wm_plugin {
    const char *name;        /* [a-z0-9-]+, the file's stem */
    const char *version;     /* semantic version */
    const char *description; /* one line */
    /* JSON Schema of the config (NULL: none). Mark secrets `"writeOnly":
     * true`; give an "examples" entry that works anywhere. */
    const char *config_schema;
    const wm_capability_request *capabilities;
    size_t capability_count;
    /* Opens an instance: sets `*state` (kept until `close`). When it
     * fails, it frees what it allocated (`close` is not called). NULL: the
     * plugin takes no config and keeps no state. */
    int (*open)(const wm_config *config, void **state, wm_error *err);
    /* Adds the current metrics to `out`. */
    int (*collect)(void *state, wm_registry *out, wm_error *err);
    /* Frees `state` (NULL: nothing to free). */
    void (*close)(void *state);
} wm_plugin;

/* Exports `descriptor` (a `wm_plugin`) as the plugin. Once per plugin, in
 * the file that defines WASMETHEUS_IMPLEMENTATION. */
#define WM_EXPORT_PLUGIN(descriptor)                                                      \
    const wm_plugin *wm_exported_plugin(void) {                                           \
        return &(descriptor);                                                             \
    }

const wm_plugin *wm_exported_plugin(void);

#ifdef __cplusplus
}
#endif

/* ======================================================================== */
#ifdef WASMETHEUS_IMPLEMENTATION

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int wm_fail(wm_error *err, wm_error_kind kind, const char *fmt, ...) {
    va_list ap;
    err->kind = kind;
    err->code = 0;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* Replaces, in place, every byte that does not start a valid UTF-8
 * sequence with '?': a WIT string must be UTF-8 (the host refuses the whole
 * call otherwise), and text from files or cut by vsnprintf may not be. */
static void wm__utf8_fix(uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                   : (c & 0xF8) == 0xF0 ? 4 : 0;
        bool ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++) {
            ok = (s[i + k] & 0xC0) == 0x80;
        }
        if (ok && len > 1) {
            uint32_t cp = c & (0x7F >> len);
            for (size_t k = 1; k < len; k++) {
                cp = (cp << 6) | (s[i + k] & 0x3F);
            }
            static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
            ok = cp >= least[len] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
        }
        if (ok) {
            i += len;
        } else {
            s[i++] = '?';
        }
    }
}

/* A malloc'd copy of `n` bytes as a WIT string (nothing allocated when
 * empty; invalid UTF-8 replaced); false when out of memory. */
static bool wm__string(exporter_string_t *s, const char *text, size_t n) {
    s->ptr = NULL;
    s->len = 0;
    if (text == NULL || n == 0) {
        return true;
    }
    s->ptr = (uint8_t *)malloc(n);
    if (s->ptr == NULL) {
        return false;
    }
    memcpy(s->ptr, text, n);
    wm__utf8_fix(s->ptr, n);
    s->len = n;
    return true;
}

static bool wm__cstring(exporter_string_t *s, const char *text) {
    return wm__string(s, text, text ? strlen(text) : 0);
}

static void wm__string_free(exporter_string_t *s) {
    free(s->ptr);
    s->ptr = NULL;
    s->len = 0;
}

void wm_log(wm_log_level level, const char *fmt, ...) {
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    exporter_string_t message = {(uint8_t *)line, (size_t)n < sizeof line ? (size_t)n
                                                                           : sizeof line - 1};
    wm__utf8_fix(message.ptr, message.len);
    wasmetheus_plugin_host_log((wasmetheus_plugin_host_log_level_t)level, &message);
}

/* ---- Registry ---------------------------------------------------------- */

static size_t wm__hash(const uint8_t *s, size_t n) {
    size_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ s[i]) * 16777619u;
    }
    return h;
}

static bool wm__string_eq(const exporter_string_t *s, const char *text, size_t n) {
    return s->len == n && (n == 0 || memcmp(s->ptr, text, n) == 0);
}

/* Rebuilds the name index with room for twice the families. */
static bool wm__reindex(wm_registry *r) {
    size_t size = 16;
    while (size < 2 * r->capacity) {
        size *= 2;
    }
    size_t *index = (size_t *)calloc(size, sizeof *index);
    if (index == NULL) {
        return false;
    }
    for (size_t i = 0; i < r->families.len; i++) {
        exporter_string_t *name = &r->families.ptr[i].name;
        size_t slot = wm__hash(name->ptr, name->len) & (size - 1);
        while (index[slot] != 0) {
            slot = (slot + 1) & (size - 1);
        }
        index[slot] = i + 1;
    }
    free(r->index);
    r->index = index;
    r->index_size = size;
    return true;
}

static wm_family wm__family(wm_registry *r, wasmetheus_plugin_types_metric_kind_t kind,
                            const char *name, const char *help) {
    wm_family none = {r, SIZE_MAX};
    if (r->failed || name == NULL) {
        return none;
    }
    size_t n = strlen(name);
    if (r->index != NULL) {
        size_t mask = r->index_size - 1;
        for (size_t slot = wm__hash((const uint8_t *)name, n) & mask; r->index[slot] != 0;
             slot = (slot + 1) & mask) {
            size_t i = r->index[slot] - 1;
            if (wm__string_eq(&r->families.ptr[i].name, name, n)) {
                return (wm_family){r, i};
            }
        }
    }
    if (r->families.len == r->capacity) {
        size_t capacity = r->capacity ? 2 * r->capacity : 8;
        wasmetheus_plugin_types_metric_family_t *families =
            (wasmetheus_plugin_types_metric_family_t *)realloc(r->families.ptr,
                                                               capacity * sizeof *families);
        if (families == NULL) {
            r->failed = true;
            return none;
        }
        r->families.ptr = families;
        r->capacity = capacity;
    }
    wasmetheus_plugin_types_metric_family_t *family = &r->families.ptr[r->families.len];
    memset(family, 0, sizeof *family);
    family->kind = kind;
    if (!wm__string(&family->name, name, n) || !wm__cstring(&family->help, help)) {
        wm__string_free(&family->name);
        r->failed = true;
        return none;
    }
    r->families.len++;
    if (r->index == NULL || 2 * r->families.len > r->index_size) {
        if (!wm__reindex(r)) {
            r->failed = true;
            return none;
        }
    } else {
        size_t mask = r->index_size - 1;
        size_t slot = wm__hash((const uint8_t *)name, n) & mask;
        while (r->index[slot] != 0) {
            slot = (slot + 1) & mask;
        }
        r->index[slot] = r->families.len;
    }
    return (wm_family){r, r->families.len - 1};
}

wm_family wm_counter(wm_registry *r, const char *name, const char *help) {
    return wm__family(r, WASMETHEUS_PLUGIN_TYPES_METRIC_KIND_COUNTER, name, help);
}
wm_family wm_gauge(wm_registry *r, const char *name, const char *help) {
    return wm__family(r, WASMETHEUS_PLUGIN_TYPES_METRIC_KIND_GAUGE, name, help);
}
wm_family wm_untyped(wm_registry *r, const char *name, const char *help) {
    return wm__family(r, WASMETHEUS_PLUGIN_TYPES_METRIC_KIND_UNTYPED, name, help);
}
wm_family wm_histogram(wm_registry *r, const char *name, const char *help) {
    return wm__family(r, WASMETHEUS_PLUGIN_TYPES_METRIC_KIND_HISTOGRAM, name, help);
}
wm_family wm_summary(wm_registry *r, const char *name, const char *help) {
    return wm__family(r, WASMETHEUS_PLUGIN_TYPES_METRIC_KIND_SUMMARY, name, help);
}
wm_family wm_info(wm_registry *r, const char *name, const char *help) {
    return wm__family(r, WASMETHEUS_PLUGIN_TYPES_METRIC_KIND_INFO, name, help);
}

static wasmetheus_plugin_types_metric_family_t *wm__get(wm_family f) {
    if (f.registry == NULL || f.registry->failed || f.index >= f.registry->families.len) {
        return NULL;
    }
    return &f.registry->families.ptr[f.index];
}

void wm_unit(wm_family f, const char *unit) {
    wasmetheus_plugin_types_metric_family_t *family = wm__get(f);
    if (family == NULL) {
        return;
    }
    wm__string_free(&family->unit);
    if (!wm__cstring(&family->unit, unit)) {
        f.registry->failed = true;
    }
}

static void wm__labels_free(wasmetheus_plugin_types_list_label_t *labels) {
    for (size_t i = 0; i < labels->len; i++) {
        wm__string_free(&labels->ptr[i].name);
        wm__string_free(&labels->ptr[i].value);
    }
    free(labels->ptr);
    labels->ptr = NULL;
    labels->len = 0;
}

static void wm__metric_free(wasmetheus_plugin_types_metric_t *metric) {
    wm__labels_free(&metric->labels);
    if (metric->value.tag == WASMETHEUS_PLUGIN_TYPES_METRIC_VALUE_HISTOGRAM) {
        free(metric->value.val.histogram.buckets.ptr);
    } else if (metric->value.tag == WASMETHEUS_PLUGIN_TYPES_METRIC_VALUE_SUMMARY) {
        free(metric->value.val.summary.quantiles.ptr);
    }
    memset(metric, 0, sizeof *metric);
}

/* Appends a series with copies of `labels`; NULL when out of memory (the
 * registry is then failed). The caller fills in the value. */
static wasmetheus_plugin_types_metric_t *wm__push(wm_family f, const wm_label *labels,
                                                  size_t count) {
    wasmetheus_plugin_types_metric_family_t *family = wm__get(f);
    if (family == NULL) {
        return NULL;
    }
    wasmetheus_plugin_types_list_metric_t *metrics = &family->metrics;
    /* Capacity doubles at powers of two: realloc when len is one. */
    size_t len = metrics->len;
    if (len == 0 || (len & (len - 1)) == 0) {
        size_t capacity = len == 0 ? 1 : 2 * len;
        wasmetheus_plugin_types_metric_t *grown = (wasmetheus_plugin_types_metric_t *)realloc(
            metrics->ptr, capacity * sizeof *grown);
        if (grown == NULL) {
            f.registry->failed = true;
            return NULL;
        }
        metrics->ptr = grown;
    }
    wasmetheus_plugin_types_metric_t *metric = &metrics->ptr[len];
    memset(metric, 0, sizeof *metric);
    if (count > 0) {
        metric->labels.ptr = (wasmetheus_plugin_types_label_t *)calloc(count, sizeof(wasmetheus_plugin_types_label_t));
        if (metric->labels.ptr == NULL) {
            f.registry->failed = true;
            return NULL;
        }
        for (size_t i = 0; i < count; i++) {
            metric->labels.len = i + 1;
            if (!wm__cstring(&metric->labels.ptr[i].name, labels[i].name) ||
                !wm__cstring(&metric->labels.ptr[i].value, labels[i].value)) {
                wm__labels_free(&metric->labels);
                f.registry->failed = true;
                return NULL;
            }
        }
    }
    metrics->len++;
    return metric;
}

void wm_add(wm_family f, const wm_label *labels, size_t count, double value) {
    wasmetheus_plugin_types_metric_t *metric = wm__push(f, labels, count);
    if (metric != NULL) {
        metric->value.tag = WASMETHEUS_PLUGIN_TYPES_METRIC_VALUE_NUMBER;
        metric->value.val.number = value;
    }
}

void wm_set(wm_family f, double value) {
    wm_add(f, NULL, 0, value);
}

void wm_add_info(wm_family f, const wm_label *labels, size_t count) {
    wm_add(f, labels, count, 1.0);
}

/* A malloc'd copy of `n` items of `size` bytes (NULL and nothing allocated
 * when n is 0); sets *ok to false when out of memory. */
static void *wm__copy(const void *items, size_t n, size_t size, bool *ok) {
    if (n == 0 || items == NULL) {
        return NULL;
    }
    if (n > SIZE_MAX / size) {
        *ok = false;
        return NULL;
    }
    void *copy = malloc(n * size);
    if (copy == NULL) {
        *ok = false;
        return NULL;
    }
    memcpy(copy, items, n * size);
    return copy;
}

void wm_add_histogram(wm_family f, const wm_label *labels, size_t count, const wm_bucket *buckets,
                      size_t bucket_count, uint64_t observations, double sum) {
    bool ok = true;
    wm_bucket *copy = (wm_bucket *)wm__copy(buckets, bucket_count, sizeof *buckets, &ok);
    wasmetheus_plugin_types_metric_t *metric = ok ? wm__push(f, labels, count) : NULL;
    if (metric == NULL) {
        free(copy);
        if (!ok && f.registry) {
            f.registry->failed = true;
        }
        return;
    }
    metric->value.tag = WASMETHEUS_PLUGIN_TYPES_METRIC_VALUE_HISTOGRAM;
    metric->value.val.histogram.buckets.ptr = copy;
    metric->value.val.histogram.buckets.len = copy ? bucket_count : 0;
    metric->value.val.histogram.count = observations;
    metric->value.val.histogram.sum = sum;
}

void wm_add_summary(wm_family f, const wm_label *labels, size_t count,
                    const wm_quantile *quantiles, size_t quantile_count, uint64_t observations,
                    double sum) {
    bool ok = true;
    wm_quantile *copy = (wm_quantile *)wm__copy(quantiles, quantile_count, sizeof *quantiles, &ok);
    wasmetheus_plugin_types_metric_t *metric = ok ? wm__push(f, labels, count) : NULL;
    if (metric == NULL) {
        free(copy);
        if (!ok && f.registry) {
            f.registry->failed = true;
        }
        return;
    }
    metric->value.tag = WASMETHEUS_PLUGIN_TYPES_METRIC_VALUE_SUMMARY;
    metric->value.val.summary.quantiles.ptr = copy;
    metric->value.val.summary.quantiles.len = copy ? quantile_count : 0;
    metric->value.val.summary.count = observations;
    metric->value.val.summary.sum = sum;
}

const wasmetheus_plugin_types_metric_family_t *wm_registry_find(const wm_registry *r,
                                                                const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < r->families.len; i++) {
        if (wm__string_eq(&r->families.ptr[i].name, name, n)) {
            return &r->families.ptr[i];
        }
    }
    return NULL;
}

void wm_registry_free(wm_registry *r) {
    for (size_t i = 0; i < r->families.len; i++) {
        wasmetheus_plugin_types_metric_family_t *family = &r->families.ptr[i];
        wm__string_free(&family->name);
        wm__string_free(&family->help);
        wm__string_free(&family->unit);
        for (size_t j = 0; j < family->metrics.len; j++) {
            wm__metric_free(&family->metrics.ptr[j]);
        }
        free(family->metrics.ptr);
    }
    free(r->families.ptr);
    free(r->index);
    memset(r, 0, sizeof *r);
}

/* Hands the families over (the post-return frees them): releases the
 * index and, when there are none, the array (never pass an allocation
 * with length 0). */
static exports_wasmetheus_plugin_metrics_list_metric_family_t wm__take(wm_registry *r) {
    exports_wasmetheus_plugin_metrics_list_metric_family_t out = r->families;
    if (out.len == 0) {
        free(out.ptr);
        out.ptr = NULL;
    }
    free(r->index);
    memset(r, 0, sizeof *r);
    return out;
}

#include "wasmetheus_config.h"

/* ---- Files and host ---------------------------------------------------- */

/* Whether the grant `g` (len bytes, trailing '/' ignored) holds the
 * absolute `path` (n bytes), lexically. */
static bool wm__holds(const char *g, size_t len, const char *path, size_t n) {
    while (len > 1 && g[len - 1] == '/') {
        len--; /* "/proc/" is "/proc" */
    }
    if (len == 1 && g[0] == '/') {
        return true;
    }
    return len > 0 && len <= n && memcmp(g, path, len) == 0 &&
           (path[len] == '/' || path[len] == '\0');
}

/* Whether `path` has `..` as a component. */
static bool wm__climbs(const char *path) {
    for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2) {
        if ((p == path || p[-1] == '/') && (p[2] == '/' || p[2] == '\0')) {
            return true;
        }
    }
    return false;
}

bool wm_path_granted(const char *path) {
    if (path == NULL || path[0] != '/' || wm__climbs(path)) {
        return false;
    }
#if defined(__wasm__)
    /* An instance's grants are fixed for its life (the host builds them
     * when it opens the instance): asked once, not per read. */
    static exporter_list_string_t granted;
    static bool asked = false;
    if (!asked) {
        wasmetheus_plugin_host_granted_read_paths(&granted);
        asked = true;
    }
#else
    /* Natively a test may change the simulated grants between reads. */
    exporter_list_string_t granted;
    wasmetheus_plugin_host_granted_read_paths(&granted);
#endif
    bool ok = false;
    size_t n = strlen(path);
    for (size_t i = 0; i < granted.len && !ok; i++) {
        ok = wm__holds((const char *)granted.ptr[i].ptr, granted.ptr[i].len, path, n);
    }
#if !defined(__wasm__)
    exporter_list_string_free(&granted);
#endif
    return ok;
}

/* Fails as WM_DENIED for `path`, outside every grant, naming a directory
 * to grant: the plugin's own read-path request that holds it, else the
 * directory the file is in (a grant of a file is refused by the host). */
static int wm__denied(const char *path, wm_error *err) {
    const wm_plugin *p = wm_exported_plugin();
    size_t n = strlen(path);
    for (size_t i = 0; p->capabilities != NULL && i < p->capability_count; i++) {
        const wm_capability_request *c = &p->capabilities[i];
        if (c->capability == WM_READ_PATH && c->target != NULL &&
            wm__holds(c->target, strlen(c->target), path, n)) {
            return wm_fail(err, WM_DENIED,
                           "read path %s: not granted (add a read_paths grant of a directory "
                           "that holds it, e.g. %s)",
                           path, c->target);
        }
    }
    size_t dir = n;
    while (dir > 0 && path[dir - 1] == '/') {
        dir--;
    }
    while (dir > 0 && path[dir - 1] != '/') {
        dir--;
    }
    while (dir > 1 && path[dir - 1] == '/') {
        dir--;
    }
    return wm_fail(err, WM_DENIED,
                   "read path %s: not granted (add a read_paths grant of a directory that "
                   "holds it, e.g. %.*s)",
                   path, dir > 0 ? (int)dir : 1, dir > 0 ? path : "/");
}

int wm_read_file(const char *path, size_t max_bytes, wm_buffer *out, wm_error *err) {
    out->data = NULL;
    out->len = 0;
    if (path == NULL || path[0] != '/') {
        return wm_fail(err, WM_OTHER,
                       "read path %s: not an absolute path (grants are absolute directories: "
                       "give the full path, e.g. /proc/net/snmp)",
                       path != NULL ? path : "(null)");
    }
    if (wm__climbs(path)) {
        return wm_fail(err, WM_OTHER,
                       "read path %s: a path with a `..` component is not read (write the "
                       "path without it)",
                       path);
    }
    /* Checked before opening, so that natively (where nothing sandboxes
     * the process) a path outside the test's grants fails as in the host. */
    if (!wm_path_granted(path)) {
        return wm__denied(path, err);
    }
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        int code = errno;
        wm_fail(err, WM_UNAVAILABLE, "%s: %s", path, strerror(code));
        err->code = code;
        return -1;
    }
    /* Read one byte more than allowed to tell "too large"; keep room for
     * the NUL. */
    size_t limit = max_bytes < SIZE_MAX - 2 ? max_bytes + 1 : SIZE_MAX - 2;
    size_t capacity = 0, len = 0;
    char *data = NULL;
    while (len < limit) {
        if (len + 1 >= capacity) {
            size_t grown = capacity ? 2 * capacity : 4096;
            if (grown > limit + 1) {
                grown = limit + 1;
            }
            char *bigger = (char *)realloc(data, grown);
            if (bigger == NULL) {
                free(data);
                close(fd);
                return wm_fail(err, WM_OTHER, "%s: out of memory", path);
            }
            data = bigger;
            capacity = grown;
        }
        size_t room = capacity - 1 - len;
        ssize_t got = read(fd, data + len, room < limit - len ? room : limit - len);
        if (got < 0) {
            int code = errno;
            if (code == EINTR) {
                continue;
            }
            free(data);
            close(fd);
            wm_fail(err, WM_UNAVAILABLE, "%s: %s", path, strerror(code));
            err->code = code;
            return -1;
        }
        if (got == 0) {
            break;
        }
        len += (size_t)got;
    }
    close(fd);
    if (len > max_bytes) {
        free(data);
        wm_fail(err, WM_UNAVAILABLE, "%s is larger than %zu bytes", path, max_bytes);
        err->code = EFBIG;
        return -1;
    }
    if (data == NULL) {
        data = (char *)malloc(1);
        if (data == NULL) {
            return wm_fail(err, WM_OTHER, "%s: out of memory", path);
        }
    }
    data[len] = '\0';
    out->data = data;
    out->len = len;
    return 0;
}

void wm_buffer_free(wm_buffer *buffer) {
    free(buffer->data);
    buffer->data = NULL;
    buffer->len = 0;
}

char *wm_instance_name(void) {
    exporter_string_t name;
    wasmetheus_plugin_host_instance_name(&name);
    char *copy = (char *)malloc(name.len + 1);
    if (copy != NULL) {
        if (name.len > 0) {
            memcpy(copy, name.ptr, name.len);
        }
        copy[name.len] = '\0';
    }
    exporter_string_free(&name);
    return copy;
}

static int wm__from_wit_error(wasmetheus_plugin_types_error_t *e, wm_error *err) {
    exporter_string_t *s = &e->val.other; /* every case holds one string */
    wm_fail(err, (wm_error_kind)e->tag, "%.*s", (int)(s->len > WM_ERROR_MAX ? WM_ERROR_MAX : s->len),
            s->ptr ? (const char *)s->ptr : "");
    wasmetheus_plugin_types_error_free(e);
    return -1;
}

int wm_filesystem_usage(const char *mount_point, wm_mount_usage *out, wm_error *err) {
    exporter_string_t mount = {(uint8_t *)mount_point, strlen(mount_point)};
    wasmetheus_plugin_host_error_t e;
    if (wasmetheus_plugin_host_filesystem_usage(&mount, out, &e)) {
        return 0;
    }
    return wm__from_wit_error(&e, err);
}

/* ---- The exports ------------------------------------------------------- */

struct exports_wasmetheus_plugin_metrics_collector_t {
    void *state;
};

/* `err` as the WIT error (its message malloc'd, never empty). */
static void wm__to_wit_error(const wm_error *err, exports_wasmetheus_plugin_metrics_error_t *out) {
    const char *message = err->message[0] ? err->message : "failed (no message given)";
    out->tag = (uint8_t)err->kind;
    if (out->tag > WASMETHEUS_PLUGIN_TYPES_ERROR_OTHER) {
        out->tag = WASMETHEUS_PLUGIN_TYPES_ERROR_OTHER;
    }
    wm__cstring(&out->val.other, message); /* empty when out of memory */
}

void exports_wasmetheus_plugin_metrics_metadata(
    exports_wasmetheus_plugin_metrics_plugin_metadata_t *ret) {
    const wm_plugin *p = wm_exported_plugin();
    memset(ret, 0, sizeof *ret);
    wm__cstring(&ret->name, p->name);
    wm__cstring(&ret->version, p->version);
    wm__cstring(&ret->description, p->description);
    wm__cstring(&ret->config_schema, p->config_schema);
    if (p->capability_count == 0 || p->capabilities == NULL) {
        return;
    }
    wasmetheus_plugin_types_capability_request_t *requests =
        (wasmetheus_plugin_types_capability_request_t *)calloc(p->capability_count,
                                                               sizeof *requests);
    if (requests == NULL) {
        return;
    }
    for (size_t i = 0; i < p->capability_count; i++) {
        const wm_capability_request *c = &p->capabilities[i];
        requests[i].capability.tag = (uint8_t)c->capability;
        if (c->capability != WM_DNS_LOOKUP) {
            wm__cstring(&requests[i].capability.val.read_path, c->target);
        }
        wm__cstring(&requests[i].reason, c->reason);
        requests[i].optional = c->optional;
    }
    ret->capabilities.ptr = requests;
    ret->capabilities.len = p->capability_count;
}

bool exports_wasmetheus_plugin_metrics_static_collector_open(
    exporter_string_t *config, exports_wasmetheus_plugin_metrics_own_collector_t *ret,
    exports_wasmetheus_plugin_metrics_error_t *err) {
    const wm_plugin *p = wm_exported_plugin();
    wm_error e = {WM_OTHER, 0, ""};
    /* A NUL-terminated copy; the host's string is ours to free. */
    size_t len = config->len;
    char *json = (char *)malloc(len + 1);
    if (json != NULL && len > 0) {
        memcpy(json, config->ptr, len);
    }
    exporter_string_free(config);
    if (json == NULL) {
        wm_fail(&e, WM_OTHER, "out of memory reading the config");
        wm__to_wit_error(&e, err);
        return false;
    }
    json[len] = '\0';
    wm_config parsed;
    void *state = NULL;
    int rc = wm_config_parse(&parsed, json, len, &e);
    if (rc == 0 && p->open != NULL) {
        rc = p->open(&parsed, &state, &e);
    } else if (rc == 0 && parsed.len > 0) {
        const char *none[] = {NULL};
        rc = wm_config_only(&parsed, none, &e);
    }
    free(json);
    struct exports_wasmetheus_plugin_metrics_collector_t *rep = NULL;
    if (rc == 0) {
        rep = (struct exports_wasmetheus_plugin_metrics_collector_t *)malloc(sizeof *rep);
        if (rep == NULL) {
            if (p->close != NULL) {
                p->close(state);
            }
            rc = wm_fail(&e, WM_OTHER, "out of memory opening the instance");
        }
    }
    if (rc != 0) {
        wm__to_wit_error(&e, err);
        return false;
    }
    rep->state = state;
    *ret = exports_wasmetheus_plugin_metrics_collector_new(rep);
    return true;
}

bool exports_wasmetheus_plugin_metrics_method_collector_collect(
    exports_wasmetheus_plugin_metrics_borrow_collector_t self,
    exports_wasmetheus_plugin_metrics_list_metric_family_t *ret,
    exports_wasmetheus_plugin_metrics_error_t *err) {
    const wm_plugin *p = wm_exported_plugin();
    wm_registry registry;
    memset(&registry, 0, sizeof registry);
    wm_error e = {WM_OTHER, 0, ""};
    int rc = p->collect != NULL ? p->collect(self->state, &registry, &e) : 0;
    if (rc == 0 && registry.failed) {
        rc = wm_fail(&e, WM_OTHER, "out of memory building the metrics");
    }
    if (rc != 0) {
        wm_registry_free(&registry);
        wm__to_wit_error(&e, err);
        return false;
    }
    *ret = wm__take(&registry);
    return true;
}

void exports_wasmetheus_plugin_metrics_collector_destructor(
    exports_wasmetheus_plugin_metrics_collector_t *rep) {
    const wm_plugin *p = wm_exported_plugin();
    if (p->close != NULL) {
        p->close(rep->state);
    }
    free(rep);
}

#endif /* WASMETHEUS_IMPLEMENTATION */
#endif /* WASMETHEUS_H */
