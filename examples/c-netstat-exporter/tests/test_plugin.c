/* test_plugin.c: native tests of c-netstat-exporter through the simulated
 * host (sdk/c/native): metadata, config errors, a collect of the fixture
 * proc tree, grants, hostile files and recovery, and 10,000 collects
 * without memory growth. Run by `make test` with the fixtures directory. */
#include "../src/netstat.h"
#include "wasmetheus_native.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "wm_check.h"

static char fixtures[1024] = "tests/fixtures";


static char proc[2048];

/* Opens with `{"proc_path": <dir>, extra}`. */
static wm_native_result open_at(const char *dir, const char *extra) {
    char config[4096];
    snprintf(config, sizeof config, "{\"proc_path\": \"%s\"%s%s}", dir, extra ? ", " : "",
             extra ? extra : "");
    return wm_native_open(config);
}

static double number(const wm_native_result *r, const char *family) {
    const wasmetheus_plugin_types_metric_family_t *f = wm_native_family(r, family);
    if (f == NULL || f->metrics.len != 1) {
        fprintf(stderr, "no family %s with one series\n", family);
        failures++;
        return -12345;
    }
    return f->metrics.ptr[0].value.val.number;
}

static void test_metadata(void) {
    char buf[4096];
    const wasmetheus_plugin_types_plugin_metadata_t *m = wm_native_metadata();
    CHECK(strcmp(wm_native_str(&m->name, buf, sizeof buf), "c-netstat-exporter") == 0);
    CHECK_CONTAINS(wm_native_str(&m->config_schema, buf, sizeof buf),
                   "\"examples\": [{\"proc_path\": \"/proc\"}]");
    CHECK(m->capabilities.len == 1);
    CHECK(m->capabilities.ptr[0].capability.tag == WASMETHEUS_PLUGIN_TYPES_CAPABILITY_READ_PATH);
    CHECK(strcmp(wm_native_str(&m->capabilities.ptr[0].capability.val.read_path, buf,
                               sizeof buf),
                 "/proc") == 0);
    CHECK(!m->capabilities.ptr[0].optional);
    wm_native_release();
}

static void test_collect_fixture(void) {
    wm_native_result opened = open_at(proc, NULL);
    CHECK(opened.ok);
    wm_native_result r = wm_native_collect(opened.handle);
    CHECK(r.ok);
    CHECK(number(&r, "node_netstat_Tcp_ActiveOpens") == 434944);
    CHECK(number(&r, "node_netstat_Tcp_CurrEstab") == 2);
    CHECK(number(&r, "node_netstat_Ip_Forwarding") == 2);
    CHECK(number(&r, "node_netstat_TcpExt_ListenOverflows") == 44);
    CHECK(number(&r, "node_netstat_Ip6_InOctets") == 640);
    CHECK(wm_native_family(&r, "node_netstat_Tcp_MaxConn") == NULL); /* not selected */
    const wasmetheus_plugin_types_metric_family_t *f =
        wm_native_family(&r, "node_netstat_TcpExt_ListenDrops");
    char buf[256];
    CHECK(f != NULL && f->kind == WASMETHEUS_PLUGIN_TYPES_METRIC_KIND_UNTYPED);
    CHECK(f != NULL && strcmp(wm_native_str(&f->help, buf, sizeof buf),
                              "Statistic TcpExtListenDrops.") == 0);
    CHECK(f != NULL && f->metrics.ptr[0].labels.len == 0 && f->unit.len == 0);
    /* As many families as statistics the default selection takes. */
    size_t selected = 0;
    for (size_t i = 0; i < r.family_count; i++) {
        CHECK(strncmp((const char *)r.families[i].name.ptr, "node_netstat_", 13) == 0);
        selected++;
    }
    CHECK(selected == 41);
    wm_native_release();
    wm_native_drop(opened.handle);

    /* Every statistic with "*". */
    opened = open_at(proc, "\"fields\": \"*\"");
    CHECK(opened.ok);
    r = wm_native_collect(opened.handle);
    CHECK(r.ok && r.family_count > 300);
    CHECK(number(&r, "node_netstat_Tcp_MaxConn") == -1);
    wm_native_release();
    wm_native_drop(opened.handle);

    opened = open_at(proc, "\"fields\": \"Udp_*, Tcp_InSegs\"");
    CHECK(opened.ok);
    r = wm_native_collect(opened.handle);
    CHECK(r.ok && wm_native_family(&r, "node_netstat_Udp_InCsumErrors") != NULL);
    CHECK(wm_native_family(&r, "node_netstat_Tcp_InSegs") != NULL);
    CHECK(wm_native_family(&r, "node_netstat_Tcp_OutSegs") == NULL);
    wm_native_release();
    wm_native_drop(opened.handle);
}

static void check_open_fails(const char *config, const char *part) {
    wm_native_result r = wm_native_open(config);
    if (r.ok) {
        fprintf(stderr, "%s: opened\n", config);
        failures++;
        wm_native_drop(r.handle);
        return;
    }
    CHECK(r.error_kind == WASMETHEUS_PLUGIN_TYPES_ERROR_INVALID_CONFIG);
    CHECK_CONTAINS(r.error, part);
}

static void test_config_errors(void) {
    check_open_fails("{\"proc_path\": 5}", "\"proc_path\" must be a string, not a number");
    check_open_fails("{\"proc_path\": \"proc\"}", "proc_path must be an absolute path");
    check_open_fails("{\"prox_path\": \"/proc\"}",
                     "unknown setting \"prox_path\"; the settings are: proc_path, fields");
    check_open_fails("{\"fields\": \"^(Tcp_.*)$\"}", "regular expressions are not supported");
    check_open_fails("{\"fields\": \"\"}", "empty pattern");
    check_open_fails("{\"proc_path\": ", "config is not valid JSON: expected a value, found the end at "
                                        "line 1 column 15");
    check_open_fails("[\"/proc\"]", "expected a JSON object of settings");
    check_open_fails("{\"proc_path\": \"/pr\\u0000oc\"}", "must not contain \\u0000");
    check_open_fails("{\"proc_path\": \"/a\", \"proc_path\": \"/b\"}", "config gives the key \"proc_path\" twice");
    /* 100,000 nested arrays, and 2 MiB of config. */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 16);
    size_t n = (size_t)sprintf(deep, "{\"fields\": ");
    memset(deep + n, '[', depth);
    memset(deep + n + depth, ']', depth);
    strcpy(deep + n + 2 * depth, "}");
    check_open_fails(deep, "nested too deeply");
    free(deep);
    size_t big = 2u << 20;
    char *huge = malloc(big + 32);
    n = (size_t)sprintf(huge, "{\"fields\": \"");
    memset(huge + n, 'a', big);
    strcpy(huge + n + big, "\"}");
    check_open_fails(huge, "more than the limit of 1048576 bytes (1 MiB)");
    free(huge);
    /* An empty config is the default, /proc. */
    wm_native_result r = wm_native_open("");
    CHECK(r.ok);
    if (r.ok) {
        wm_native_drop(r.handle);
    }
}

static void write_file(const char *dir, const char *name, const char *text) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_grants_and_hostile_files(void) {
    /* Not granted: denied, naming the grant to add. */
    wm_native_clear_grants();
    wm_native_grant("/nowhere");
    wm_native_result opened = open_at("/proc-not-granted", NULL);
    CHECK(opened.ok);
    wm_native_result r = wm_native_collect(opened.handle);
    CHECK(!r.ok && r.error_kind == WASMETHEUS_PLUGIN_TYPES_ERROR_DENIED);
    CHECK_CONTAINS(r.error, "read path /proc-not-granted/net/netstat: not granted (add a "
                            "read_paths grant of a directory that holds it, e.g. "
                            "/proc-not-granted/net)");
    wm_native_release();
    wm_native_drop(opened.handle);
    /* The real /proc, readable by this process but not granted: denied
     * before it is opened, naming the plugin's own request. */
    opened = open_at("/proc", NULL);
    CHECK(opened.ok);
    r = wm_native_collect(opened.handle);
    CHECK(!r.ok && r.error_kind == WASMETHEUS_PLUGIN_TYPES_ERROR_DENIED);
    CHECK_CONTAINS(r.error, "read path /proc/net/netstat: not granted (add a read_paths grant "
                            "of a directory that holds it, e.g. /proc)");
    wm_native_release();
    wm_native_drop(opened.handle);

    /* A tree of our own, granted: no snmp6 is fine. */
    char dir[] = "/tmp/c-netstat-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    wm_native_clear_grants();
    wm_native_grant(dir);
    char net[64];
    snprintf(net, sizeof net, "%s/net", dir);
    mkdir(net, 0755);
    write_file(net, "netstat", "TcpExt: ListenDrops\nTcpExt: 3\n");
    write_file(net, "snmp", "Tcp: InSegs MaxConn\nTcp: 10 -1\n");
    opened = open_at(dir, NULL);
    CHECK(opened.ok);
    r = wm_native_collect(opened.handle);
    CHECK(r.ok && r.family_count == 2);
    CHECK(number(&r, "node_netstat_TcpExt_ListenDrops") == 3);
    CHECK(number(&r, "node_netstat_Tcp_InSegs") == 10);
    wm_native_release();

    /* Hostile: a value line shorter than its header, then garbage, then a
     * huge file; each a clear error; then a good file again. */
    write_file(net, "snmp", "Tcp: InSegs MaxConn\nTcp: 10\n");
    r = wm_native_collect(opened.handle);
    CHECK(!r.ok && r.error_kind == WASMETHEUS_PLUGIN_TYPES_ERROR_UNAVAILABLE);
    CHECK_CONTAINS(r.error, "/net/snmp line 1: Tcp has 2 fields but 1 values on the next line");
    wm_native_release();
    write_file(net, "snmp", "Tcp: InSegs\nTcp: lots\n");
    r = wm_native_collect(opened.handle);
    CHECK(!r.ok);
    CHECK_CONTAINS(r.error, "Tcp_InSegs is `lots`, not a number");
    wm_native_release();
    char *huge = malloc(NS_MAX_FILE_BYTES + 2);
    memset(huge, 'x', NS_MAX_FILE_BYTES + 1);
    huge[NS_MAX_FILE_BYTES + 1] = '\0';
    write_file(net, "snmp", huge);
    free(huge);
    r = wm_native_collect(opened.handle);
    CHECK(!r.ok);
    CHECK_CONTAINS(r.error, "/net/snmp is larger than 1048576 bytes");
    wm_native_release();
    write_file(net, "snmp", "Tcp: InSegs MaxConn\nTcp: 11 -1\n");
    r = wm_native_collect(opened.handle);
    CHECK(r.ok && number(&r, "node_netstat_Tcp_InSegs") == 11);
    wm_native_release();

    /* A missing required file. */
    char path[128];
    snprintf(path, sizeof path, "%s/netstat", net);
    unlink(path);
    r = wm_native_collect(opened.handle);
    CHECK(!r.ok && r.error_kind == WASMETHEUS_PLUGIN_TYPES_ERROR_UNAVAILABLE);
    CHECK_CONTAINS(r.error, "/net/netstat: No such file or directory");
    wm_native_release();
    wm_native_drop(opened.handle);
    snprintf(path, sizeof path, "%s/snmp", net);
    unlink(path);
    rmdir(net);
    rmdir(dir);
    wm_native_clear_grants();
    wm_native_grant("/");
}

static void test_many_collects_do_not_grow(void) {
    wm_native_result opened = open_at(proc, "\"fields\": \"*\"");
    CHECK(opened.ok);
    size_t after_warmup = 0;
    for (int i = 0; i < 10000; i++) {
        wm_native_result r = wm_native_collect(opened.handle);
        CHECK(r.ok);
        wm_native_release();
        if (i == 99) {
            after_warmup = wm_native_live_bytes();
        }
        if (!r.ok) {
            break;
        }
    }
    size_t after = wm_native_live_bytes();
    if (after > after_warmup) {
        fprintf(stderr, "live bytes grew from %zu to %zu over 9,900 collects\n", after_warmup,
                after);
        failures++;
    }
    wm_native_drop(opened.handle);
}

int main(int argc, char **argv) {
    if (argc > 1) {
        snprintf(fixtures, sizeof fixtures, "%s", argv[1]);
    }
    char cwd[512];
    if (fixtures[0] != '/' && getcwd(cwd, sizeof cwd) != NULL) {
        snprintf(proc, sizeof proc, "%s/%s/proc", cwd, fixtures);
    } else {
        snprintf(proc, sizeof proc, "%s/proc", fixtures);
    }
    test_metadata();
    test_collect_fixture();
    test_config_errors();
    test_grants_and_hostile_files();
    test_many_collects_do_not_grow();
    if (failures) {
        fprintf(stderr, "test_plugin: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_plugin: all checks passed\n");
    return 0;
}
