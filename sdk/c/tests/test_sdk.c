/* test_sdk.c: native tests of wasmetheus.h: the registry, the JSON config
 * reader (hostile input included), granted file reads, log and host calls,
 * and the exports glue through the simulated host (sdk/c/native) with
 * sdk_plugin.c, under AddressSanitizer and LeakSanitizer. */
#include "wasmetheus.h"
#include "wasmetheus_native.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wm_check.h"


static bool str_is(const exporter_string_t *s, const char *text) {
    return s->len == strlen(text) && (s->len == 0 || memcmp(s->ptr, text, s->len) == 0);
}

static void test_registry(void) {
    wm_registry r;
    memset(&r, 0, sizeof r);
    wm_set(wm_counter(&r, "c", "A counter."), 1);
    wm_add(wm_counter(&r, "c", "other help"), WM_LABELS({"a", "b"}), 2);
    wm_unit(wm_gauge(&r, "g_bytes", "A gauge."), "bytes");
    wm_unit(wm_gauge(&r, "g_bytes", ""), "bytes"); /* replaced, not leaked */
    CHECK(r.families.len == 2);
    const wasmetheus_plugin_types_metric_family_t *c = wm_registry_find(&r, "c");
    CHECK(c != NULL && c->metrics.len == 2 && str_is(&c->help, "A counter."));
    CHECK(c != NULL && c->kind == WASMETHEUS_PLUGIN_TYPES_METRIC_KIND_COUNTER);
    CHECK(c != NULL && str_is(&c->metrics.ptr[1].labels.ptr[0].name, "a"));
    CHECK(c != NULL && c->metrics.ptr[1].value.val.number == 2);
    const wasmetheus_plugin_types_metric_family_t *g = wm_registry_find(&r, "g_bytes");
    CHECK(g != NULL && str_is(&g->unit, "bytes") && g->metrics.len == 0);
    CHECK(g != NULL && g->metrics.ptr == NULL); /* no allocation for an empty list */
    /* Many families: the index grows and still finds each. */
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "f%d", i);
        wm_set(wm_gauge(&r, name, ""), i);
    }
    for (int i = 0; i < 5000; i += 97) {
        snprintf(name, sizeof name, "f%d", i);
        wm_set(wm_gauge(&r, name, ""), i);
        const wasmetheus_plugin_types_metric_family_t *f = wm_registry_find(&r, name);
        CHECK(f != NULL && f->metrics.len == 2 && f->metrics.ptr[0].value.val.number == i);
    }
    CHECK(r.families.len == 5002);
    /* An empty help and a NULL unit are empty strings, not allocations. */
    CHECK(wm_registry_find(&r, "f1")->help.ptr == NULL);
    wm_unit(wm_gauge(&r, "f1", ""), NULL);
    CHECK(wm_registry_find(&r, "f1")->unit.len == 0);
    /* A family handle of another registry's index does nothing. */
    wm_set((wm_family){&r, 999999}, 1);
    wm_set((wm_family){NULL, 0}, 1);
    /* Invalid UTF-8 never reaches the host: each bad byte becomes '?'. */
    wm_family u = wm_gauge(&r, "utf8", "caf\xc3\xa9 \xf0\x9f\x98\x80");
    wm_add(u, WM_LABELS({"v", "\xff ok \xc3"}), 1);
    wm_add(u, WM_LABELS({"v", "\xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82"}), 2);
    const wasmetheus_plugin_types_metric_family_t *uf = wm_registry_find(&r, "utf8");
    CHECK(uf && str_is(&uf->help, "caf\xc3\xa9 \xf0\x9f\x98\x80"));
    CHECK(uf && str_is(&uf->metrics.ptr[0].labels.ptr[0].value, "? ok ?"));
    CHECK(uf && str_is(&uf->metrics.ptr[1].labels.ptr[0].value, "?? ??? ???? ??"));
    wm_registry_free(&r);
    CHECK(r.families.len == 0 && r.families.ptr == NULL);
}

static wm_config config_of(const char *json, int *rc, wm_error *err) {
    wm_config config;
    *rc = wm_config_parse(&config, json, strlen(json), err);
    return config;
}

static void check_invalid(const char *json, const char *part) {
    wm_error err = {0, 0, ""};
    int rc;
    config_of(json, &rc, &err);
    if (rc != -1) {
        fprintf(stderr, "accepted: %s\n", json);
        failures++;
        return;
    }
    CHECK(err.kind == WM_INVALID_CONFIG);
    CHECK_CONTAINS(err.message, part);
}

static void test_config(void) {
    wm_error err = {0, 0, ""};
    int rc;
    wm_config c = config_of(" {\"s\": \"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\", \"t\": true, "
                            "\"f\": false, \"n\": -1.5e3, \"z\": null, \"o\": {\"s\": \"inner\"}, "
                            "\"a\": [1, \"x\", [], {}]} ",
                            &rc, &err);
    CHECK(rc == 0);
    char *s = NULL;
    CHECK(wm_config_string(&c, "s", &s, &err) == 1);
    CHECK(s != NULL && strcmp(s, "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80") == 0);
    free(s);
    bool b = false;
    double n = 0;
    CHECK(wm_config_bool(&c, "t", &b, &err) == 1 && b);
    CHECK(wm_config_bool(&c, "f", &b, &err) == 1 && !b);
    CHECK(wm_config_number(&c, "n", &n, &err) == 1 && n == -1500);
    CHECK(wm_config_string(&c, "z", &s, &err) == 0 && s == NULL); /* null is absent */
    CHECK(wm_config_string(&c, "missing", &s, &err) == 0);
    CHECK(wm_config_string(&c, "n", &s, &err) == -1);
    CHECK_CONTAINS(err.message, "the setting \"n\" must be a string, not a number");
    CHECK(wm_config_bool(&c, "s", &b, &err) == -1);
    CHECK_CONTAINS(err.message, "\"s\" must be true or false, not a string");
    CHECK(wm_config_number(&c, "o", &n, &err) == -1);
    CHECK_CONTAINS(err.message, "\"o\" must be a number, not an object");
    CHECK(wm_config_string(&c, "a", &s, &err) == -1);
    CHECK_CONTAINS(err.message, "not an array");
    const char *known[] = {"s", "t", "f", "n", "z", "o", NULL};
    CHECK(wm_config_only(&c, known, &err) == -1);
    CHECK_CONTAINS(err.message, "unknown setting \"a\"; the settings are: s, t, f, n, z, o");
    /* An escaped key is matched decoded. */
    c = config_of("{\"m\\u006fde\": \"x\"}", &rc, &err);
    CHECK(rc == 0 && wm_config_string(&c, "mode", &s, &err) == 1 && strcmp(s, "x") == 0);
    free(s);
    c = config_of("", &rc, &err);
    CHECK(rc == 0 && wm_config_string(&c, "mode", &s, &err) == 0);
    c = config_of(" \n ", &rc, &err);
    CHECK(rc == 0 && wm_config_only(&c, known, &err) == 0);
    c = config_of("{}", &rc, &err);
    CHECK(rc == 0 && wm_config_only(&c, known, &err) == 0);

    check_invalid("{\"a\": 1,}", "config is not valid JSON: expected a string key at line 1 column 9");
    /* Lines and columns count from 1, columns in characters. */
    check_invalid("{\n  \"caf\u00e9\": 1,\n  \"\xc3\xa9\xc3\xa9\": x\n}",
                  "config is not valid JSON: expected a value (object, array, string, number, "
                  "true, false or null) at line 3 column 9");
    check_invalid("not json", "config is not valid JSON: expected a value");
    check_invalid("{\"a\": 1", "config is not valid JSON: expected ',' or '}' at line 1 column 8");
    check_invalid("\xff\xfe", "config is not valid JSON: expected a value");
    check_invalid("{\"a\" 1}", "expected ':' after a key");
    check_invalid("{\"a\": 01}", "expected ',' or '}'");
    check_invalid("{\"a\": -}", "invalid number");
    check_invalid("{\"a\": 1.}", "invalid number");
    check_invalid("{\"a\": tru}", "expected a value");
    check_invalid("{\"a\": \"\\x\"}", "invalid escape");
    check_invalid("{\"a\": \"\\ud800\"}", "unpaired surrogate");
    check_invalid("{\"a\": \"\\udc00\"}", "unpaired surrogate");
    check_invalid("{\"a\": \"tab\there\"}", "control character");
    check_invalid("{\"a\": \"open", "unterminated string");
    check_invalid("{\"a\": 1} x", "text after the value at line 1 column 10");
    check_invalid("[1]", "config: expected a JSON object of settings (`{\"setting\": value}`), got an array");
    check_invalid("null", "got null");
    check_invalid("12", "got a number");
    check_invalid("\"x\"", "got a string");
    check_invalid("{\"a\": 1, \"a\": 2}", "config gives the key \"a\" twice in one object; keep one");
    /* Duplicates are refused at every level, escaped or not. */
    check_invalid("{\"o\": {\"x\": 1, \"y\": [{\"k\": 1, \"\\u006b\": 2}]}}",
                  "config gives the key \"k\" twice in one object");
    c = config_of("{\"o\": {\"k\": 1}, \"p\": {\"k\": 1}, \"k\": {\"k\": {\"k\": 1}}}", &rc, &err);
    CHECK(rc == 0); /* the same key in different objects is fine */
    check_invalid("{\"a\": [1, 2}", "expected ',' or ']'");
    /* Hostile sizes: depth, length, key length, key count. */
    size_t depth = 200000;
    char *deep = malloc(2 * depth + 16);
    size_t len = (size_t)sprintf(deep, "{\"a\": ");
    memset(deep + len, '[', depth);
    strcpy(deep + len + depth, "");
    check_invalid(deep, "nested too deeply");
    c = config_of("{\"a\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]"
                  "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
                  &rc, &err);
    CHECK(rc == -1);
    free(deep);
    char *big = malloc(WM_CONFIG_MAX + 64);
    len = (size_t)sprintf(big, "{\"a\": \"");
    memset(big + len, 'x', WM_CONFIG_MAX);
    strcpy(big + len + WM_CONFIG_MAX, "\"}");
    check_invalid(big, "config is 1048585 bytes, more than the limit of 1048576 bytes (1 MiB)");
    /* Exactly 1 MiB is read. */
    len = (size_t)sprintf(big, "{\"a\": \"");
    memset(big + len, 'x', WM_CONFIG_MAX - len - 2);
    strcpy(big + WM_CONFIG_MAX - 2, "\"}");
    c = config_of(big, &rc, &err);
    CHECK(rc == 0 && c.len == WM_CONFIG_MAX);
    /* 50,000 keys in a nested object: refused duplicates stay fast. */
    len = (size_t)sprintf(big, "{\"o\": {");
    for (int i = 0; i < 50000; i++) {
        len += (size_t)sprintf(big + len, "%s\"k%d\": 0", i ? "," : "", i);
    }
    len += (size_t)sprintf(big + len, ", \"k17\": 1}}");
    check_invalid(big, "config gives the key \"k17\" twice");
    len = (size_t)sprintf(big, "{\"");
    memset(big + len, 'k', 2000);
    strcpy(big + len + 2000, "\": 1}");
    check_invalid(big, "a setting name longer than 1024 bytes");
    len = (size_t)sprintf(big, "{");
    for (int i = 0; i < 1100; i++) {
        len += (size_t)sprintf(big + len, "%s\"k%d\": %d", i ? ", " : "", i, i);
    }
    strcpy(big + len, "}");
    check_invalid(big, "more than 1024 settings");
    free(big);
}

static void write_text(const char *path, const char *text, size_t n) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fwrite(text, 1, n, f);
        fclose(f);
    }
}

static void test_files(void) {
    char dir[] = "/tmp/wasmetheus-c-sdk-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/data", dir);
    write_text(path, "hello\0world", 11);
    wm_buffer buf;
    wm_error err = {0, 0, ""};
    wm_native_clear_grants();
    wm_native_grant("/tmp/");
    CHECK(wm_read_file(path, 100, &buf, &err) == 0);
    CHECK(buf.len == 11 && memcmp(buf.data, "hello\0world", 12) == 0);
    wm_buffer_free(&buf);
    CHECK(wm_read_file(path, 11, &buf, &err) == 0 && buf.len == 11);
    wm_buffer_free(&buf);
    CHECK(wm_read_file(path, 10, &buf, &err) == -1);
    CHECK(err.kind == WM_UNAVAILABLE && buf.data == NULL);
    CHECK_CONTAINS(err.message, "is larger than 10 bytes");
    write_text(path, "", 0);
    CHECK(wm_read_file(path, 10, &buf, &err) == 0 && buf.len == 0 && buf.data[0] == '\0');
    wm_buffer_free(&buf);
    /* 100 KiB through the growing buffer. */
    char *many = malloc(100 * 1024);
    for (size_t i = 0; i < 100 * 1024; i++) {
        many[i] = (char)('a' + i % 26);
    }
    write_text(path, many, 100 * 1024);
    CHECK(wm_read_file(path, 1 << 20, &buf, &err) == 0 && buf.len == 100 * 1024);
    CHECK(buf.data && memcmp(buf.data, many, 100 * 1024) == 0);
    wm_buffer_free(&buf);
    free(many);
    /* Missing under a grant: unavailable, ENOENT. */
    snprintf(path, sizeof path, "%s/missing", dir);
    CHECK(wm_read_file(path, 10, &buf, &err) == -1);
    CHECK(err.kind == WM_UNAVAILABLE && err.code == ENOENT);
    CHECK_CONTAINS(err.message, "No such file or directory");
    /* Outside every grant: denied, naming a directory to grant. */
    wm_native_clear_grants();
    wm_native_grant("/tm");
    CHECK(wm_read_file(path, 10, &buf, &err) == -1);
    CHECK(err.kind == WM_DENIED);
    char wanted[256];
    snprintf(wanted, sizeof wanted,
             "read path %s/missing: not granted (add a read_paths grant of a directory that "
             "holds it, e.g. %s)",
             dir, dir);
    CHECK_CONTAINS(err.message, wanted);
    /* An existing, readable file outside the grants is denied before it
     * is opened, natively as in the host. */
    snprintf(path, sizeof path, "%s/data", dir);
    err.kind = WM_OTHER;
    CHECK(wm_read_file(path, 100, &buf, &err) == -1);
    CHECK(err.kind == WM_DENIED && buf.data == NULL);
    snprintf(wanted, sizeof wanted, "read path %s: not granted", path);
    CHECK_CONTAINS(err.message, wanted);
    CHECK(wm_read_file("/etc/hostname", 100, &buf, &err) == -1 && err.kind == WM_DENIED);
    CHECK_CONTAINS(err.message, "e.g. /etc)");
    /* The plugin's own read-path request is named when it holds the path. */
    CHECK(wm_read_file("/var/lib/sdk/state/x", 100, &buf, &err) == -1 && err.kind == WM_DENIED);
    CHECK_CONTAINS(err.message, "read path /var/lib/sdk/state/x: not granted (add a read_paths "
                                "grant of a directory that holds it, e.g. /var/lib/sdk)");
    /* Never the file itself, even at the root. */
    CHECK(wm_read_file("/x", 100, &buf, &err) == -1);
    CHECK_CONTAINS(err.message, "e.g. /)");
    /* Under a grant again: read. */
    wm_native_grant(dir);
    CHECK(wm_read_file(path, 1 << 20, &buf, &err) == 0 && buf.len == 100 * 1024);
    wm_buffer_free(&buf);
    /* Relative paths and `..` are refused, not guessed at. */
    CHECK(wm_read_file("data", 100, &buf, &err) == -1 && err.kind == WM_OTHER);
    CHECK_CONTAINS(err.message, "read path data: not an absolute path");
    snprintf(path, sizeof path, "%s/../etc/hostname", dir);
    CHECK(wm_read_file(path, 100, &buf, &err) == -1 && err.kind == WM_OTHER);
    CHECK_CONTAINS(err.message, "a path with a `..` component is not read");
    CHECK(buf.data == NULL);
    /* Lexical checks. */
    wm_native_clear_grants();
    wm_native_grant("/proc");
    CHECK(wm_path_granted("/proc"));
    CHECK(wm_path_granted("/proc/net/snmp"));
    CHECK(!wm_path_granted("/procfs/x"));
    CHECK(!wm_path_granted("/proc/../etc/passwd"));
    CHECK(!wm_path_granted("/proc/.."));
    CHECK(wm_path_granted("/proc/..x"));
    CHECK(!wm_path_granted("proc/net"));
    CHECK(!wm_path_granted(NULL));
    /* A /proc file reads as size 0 but has contents. */
    CHECK(wm_read_file("/proc/self/status", 1 << 20, &buf, &err) == 0 && buf.len > 0);
    CHECK(buf.data && strstr(buf.data, "Name:") != NULL);
    wm_buffer_free(&buf);
    wm_native_clear_grants();
    wm_native_grant("/");
    CHECK(wm_path_granted("/anything/at/all"));
    snprintf(path, sizeof path, "%s/data", dir);
    unlink(path);
    rmdir(dir);
}

static void test_host(void) {
    wm_log(WM_LOG_WARN, "disk %s at %d%%", "sda", 93);
    CHECK(strcmp(wm_native_last_log(), "disk sda at 93%") == 0);
    CHECK(wm_native_last_log_level() == WM_LOG_WARN);
    char *long_text = malloc(10000);
    memset(long_text, 'y', 9999);
    long_text[9999] = '\0';
    wm_log(WM_LOG_INFO, "%s", long_text);
    CHECK(strlen(wm_native_last_log()) == 4095);
    /* Cut inside a two-byte character: the dangling byte is replaced. */
    for (int i = 0; i < 4998; i += 2) {
        memcpy(long_text + i, "\xc3\xa9", 2);
    }
    long_text[4998] = '\0';
    wm_log(WM_LOG_INFO, "%s", long_text);
    CHECK(strlen(wm_native_last_log()) == 4095 && wm_native_last_log()[4094] == '?');
    CHECK(memcmp(wm_native_last_log() + 4092, "\xc3\xa9?", 3) == 0);
    free(long_text);
    wm_native_set_instance_name("node-1");
    char *name = wm_instance_name();
    CHECK(name != NULL && strcmp(name, "node-1") == 0);
    free(name);
    wm_native_set_instance_name("");
    name = wm_instance_name();
    CHECK(name != NULL && name[0] == '\0');
    free(name);
    wm_mount_usage usage;
    wm_error err = {0, 0, ""};
    CHECK(wm_filesystem_usage("/", &usage, &err) == -1);
    CHECK(err.kind == WM_UNAVAILABLE);
    CHECK_CONTAINS(err.message, "needs the wasmetheus host");
}

static void test_metadata_glue(void) {
    const wasmetheus_plugin_types_plugin_metadata_t *m = wm_native_metadata();
    CHECK(str_is(&m->name, "sdk-test") && str_is(&m->version, "0.0.1"));
    CHECK(m->config_schema.len == 0 && m->config_schema.ptr == NULL);
    CHECK(m->capabilities.len == 3);
    CHECK(m->capabilities.ptr[1].capability.tag == WASMETHEUS_PLUGIN_TYPES_CAPABILITY_DNS_LOOKUP);
    CHECK(m->capabilities.ptr[1].optional && !m->capabilities.ptr[0].optional);
    CHECK(str_is(&m->capabilities.ptr[2].capability.val.http_origin, "http://127.0.0.1:8080"));
    CHECK(str_is(&m->capabilities.ptr[2].reason, "asks the service"));
    wm_native_release();
}

static void test_open_and_collect_glue(void) {
    wm_native_result bad = wm_native_open("{\"scale\": \"x\"}");
    CHECK(!bad.ok && bad.error_kind == WASMETHEUS_PLUGIN_TYPES_ERROR_INVALID_CONFIG);
    CHECK_CONTAINS(bad.error, "\"scale\" must be a number, not a string");
    bad = wm_native_open("{\"mode\": ");
    CHECK(!bad.ok);
    CHECK_CONTAINS(bad.error, "config is not valid JSON: expected a value, found the end at line 1 column 10");

    wm_native_result opened = wm_native_open("{\"verbose\": true, \"scale\": 2}");
    CHECK(opened.ok && opened.handle > 0);
    size_t logs = wm_native_log_count();
    wm_native_result r = wm_native_collect(opened.handle);
    CHECK(r.ok && r.family_count == 7);
    CHECK(wm_native_log_count() == logs + 1 && wm_native_last_log_level() == WM_LOG_ERROR);
    CHECK(strcmp(wm_native_last_log(), "collect with scale 2") == 0);
    const wasmetheus_plugin_types_metric_family_t *f = wm_native_family(&r, "sdk_requests");
    CHECK(f && f->metrics.ptr[0].value.val.number == 14);
    f = wm_native_family(&r, "sdk_temperature_celsius");
    CHECK(f && f->metrics.len == 3 && str_is(&f->unit, "celsius"));
    CHECK(f && str_is(&f->metrics.ptr[1].labels.ptr[1].value, "2"));
    CHECK(f && f->metrics.ptr[2].labels.len == 1);
    f = wm_native_family(&r, "sdk_build");
    CHECK(f && f->kind == WASMETHEUS_PLUGIN_TYPES_METRIC_KIND_INFO);
    CHECK(f && f->metrics.ptr[0].value.val.number == 1 && f->metrics.ptr[0].labels.len == 2);
    f = wm_native_family(&r, "sdk_latency_seconds");
    CHECK(f && f->metrics.ptr[0].value.tag == WASMETHEUS_PLUGIN_TYPES_METRIC_VALUE_HISTOGRAM);
    CHECK(f && f->metrics.ptr[0].value.val.histogram.buckets.len == 3);
    CHECK(f && f->metrics.ptr[0].value.val.histogram.buckets.ptr[2].cumulative_count == 9);
    CHECK(f && f->metrics.ptr[0].value.val.histogram.sum == 12.5);
    f = wm_native_family(&r, "sdk_size_bytes");
    CHECK(f && f->metrics.ptr[0].value.tag == WASMETHEUS_PLUGIN_TYPES_METRIC_VALUE_SUMMARY);
    CHECK(f && f->metrics.ptr[0].value.val.summary.quantiles.ptr[1].quantile == 0.99);
    CHECK(f && f->metrics.ptr[0].value.val.summary.count == 40);
    f = wm_native_family(&r, "sdk_untyped");
    CHECK(f && f->help.len == 0 && f->metrics.ptr[0].timestamp_ms.is_some == false);
    wm_native_release();
    wm_native_drop(opened.handle);

    opened = wm_native_open("{\"mode\": \"fail\", \"scale\": 3}");
    r = wm_native_collect(opened.handle);
    CHECK(!r.ok && r.error_kind == WASMETHEUS_PLUGIN_TYPES_ERROR_UNAVAILABLE);
    CHECK(strcmp(r.error, "the service is down (scale 3)") == 0);
    wm_native_release();
    wm_native_drop(opened.handle);
    opened = wm_native_open("{\"mode\": \"silent-fail\"}");
    r = wm_native_collect(opened.handle);
    CHECK(!r.ok && strcmp(r.error, "failed (no message given)") == 0);
    wm_native_release();
    wm_native_drop(opened.handle);
    opened = wm_native_open("{\"mode\": \"empty\"}");
    r = wm_native_collect(opened.handle);
    CHECK(r.ok && r.family_count == 0 && r.families == NULL);
    wm_native_release();
    wm_native_drop(opened.handle);
}

/* 10,000 collects of every kind on one instance (and 100 of 3,000
 * families): no growth once warm, no leak at exit (LeakSanitizer). */
static void test_no_growth(void) {
    wm_native_result opened = wm_native_open("{}");
    size_t warm = 0;
    for (int i = 0; i < 10000; i++) {
        wm_native_result r = wm_native_collect(opened.handle);
        wm_native_release();
        if (!r.ok) {
            failures++;
            break;
        }
        if (i == 99) {
            warm = wm_native_live_bytes();
        }
    }
    size_t after = wm_native_live_bytes();
    if (after > warm) {
        fprintf(stderr, "live bytes grew from %zu to %zu\n", warm, after);
        failures++;
    }
    wm_native_drop(opened.handle);
    opened = wm_native_open("{\"mode\": \"many\"}");
    for (int i = 0; i < 100; i++) {
        wm_native_result r = wm_native_collect(opened.handle);
        CHECK(r.ok && r.family_count == 3007);
        wm_native_release();
    }
    wm_native_drop(opened.handle);
}

int main(void) {
    test_registry();
    test_config();
    test_files();
    test_host();
    test_metadata_glue();
    test_open_and_collect_glue();
    test_no_growth();
    (void)isnan(0.0);
    if (failures) {
        fprintf(stderr, "test_sdk: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_sdk: all checks passed\n");
    return 0;
}
