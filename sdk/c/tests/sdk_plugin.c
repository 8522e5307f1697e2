/* sdk_plugin.c: a plugin using every helper of wasmetheus.h, for the
 * SDK's tests (test_sdk.c): its config's "mode" picks what collect does. */
#define WASMETHEUS_IMPLEMENTATION
#include "wasmetheus.h"

#include <stdlib.h>
#include <string.h>

typedef struct sdk_test {
    char *mode;
    bool verbose;
    double scale;
} sdk_test;

static int sdk_open(const wm_config *config, void **state, wm_error *err) {
    static const char *const known[] = {"mode", "verbose", "scale", NULL};
    sdk_test *t = calloc(1, sizeof *t);
    if (t == NULL) {
        return wm_fail(err, WM_OTHER, "out of memory");
    }
    t->scale = 1;
    if (wm_config_only(config, known, err) != 0 ||
        wm_config_string(config, "mode", &t->mode, err) < 0 ||
        wm_config_bool(config, "verbose", &t->verbose, err) < 0 ||
        wm_config_number(config, "scale", &t->scale, err) < 0) {
        free(t->mode);
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static bool mode_is(const sdk_test *t, const char *mode) {
    return t->mode != NULL && strcmp(t->mode, mode) == 0;
}

static int sdk_collect(void *state, wm_registry *out, wm_error *err) {
    sdk_test *t = state;
    if (mode_is(t, "fail")) {
        return wm_fail(err, WM_UNAVAILABLE, "the service is down (scale %g)", t->scale);
    }
    if (mode_is(t, "silent-fail")) {
        err->message[0] = '\0';
        err->kind = WM_OTHER;
        return -1;
    }
    if (mode_is(t, "empty")) {
        return 0;
    }
    if (t->verbose) {
        wm_log(WM_LOG_ERROR, "collect with scale %g", t->scale);
    }
    wm_set(wm_counter(out, "sdk_requests", "Requests served."), 7 * t->scale);
    wm_family temp = wm_gauge(out, "sdk_temperature_celsius", "Temperature.");
    wm_unit(temp, "celsius");
    wm_add(temp, WM_LABELS({"room", "kitchen"}, {"floor", "0"}), 21.5);
    wm_add(temp, WM_LABELS({"room", "attic"}, {"floor", "2"}), 30);
    /* The same name again adds to the same family. */
    wm_add(wm_gauge(out, "sdk_temperature_celsius", "ignored"), WM_LABELS({"room", "cellar"}), 12);
    wm_set(wm_untyped(out, "sdk_untyped", ""), -1);
    wm_add_info(wm_info(out, "sdk_build", "Build information."),
                WM_LABELS({"version", "1.2.3"}, {"compiler", "clang"}));
    const wm_bucket buckets[] = {{0.1, 2}, {1, 5}, {10, 9}};
    wm_add_histogram(wm_histogram(out, "sdk_latency_seconds", "Latency."), NULL, 0, buckets, 3,
                     10, 12.5);
    const wm_quantile quantiles[] = {{0.5, 0.2}, {0.99, 3}};
    wm_add_summary(wm_summary(out, "sdk_size_bytes", "Sizes."), WM_LABELS({"kind", "body"}),
                   quantiles, 2, 40, 900);
    wm_add_histogram(wm_histogram(out, "sdk_empty_histogram", "No buckets."), NULL, 0, NULL, 0,
                     0, 0);
    if (mode_is(t, "many")) {
        char name[64];
        for (int i = 0; i < 3000; i++) {
            snprintf(name, sizeof name, "sdk_many_%d", i);
            wm_set(wm_gauge(out, name, "One of many."), i);
        }
        for (int i = 0; i < 3000; i += 7) {
            snprintf(name, sizeof name, "sdk_many_%d", i);
            wm_set(wm_gauge(out, name, "One of many."), -i);
        }
    }
    return 0;
}

static void sdk_close(void *state) {
    sdk_test *t = state;
    free(t->mode);
    free(t);
}

static const wm_capability_request CAPABILITIES[] = {
    {WM_READ_PATH, "/var/lib/sdk", "reads its state", false},
    {WM_DNS_LOOKUP, NULL, "resolves names", true},
    {WM_HTTP_ORIGIN, "http://127.0.0.1:8080", "asks the service", false},
};

static const wm_plugin SDK_TEST = {
    .name = "sdk-test",
    .version = "0.0.1",
    .description = "Exercises the C SDK",
    .capabilities = CAPABILITIES,
    .capability_count = 3,
    .open = sdk_open,
    .collect = sdk_collect,
    .close = sdk_close,
};

WM_EXPORT_PLUGIN(SDK_TEST)
