/* plugin.c: c-netstat-exporter, node_exporter's netstat collector as a
 * wasmetheus plugin written in C. Reads net/netstat, net/snmp and (when
 * present) net/snmp6 under a granted proc tree and exports each selected
 * statistic as the untyped `node_netstat_<Protocol>_<Field>`, with
 * node_exporter's names, help texts and default field selection. */
#define WASMETHEUS_IMPLEMENTATION
#include "wasmetheus.h"

#include "netstat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROC_PATH_MAX 1024

static const char SCHEMA[] =
    "{\"type\": \"object\", \"additionalProperties\": false, \"properties\": {"
    "\"proc_path\": {\"type\": \"string\", \"default\": \"/proc\", \"description\": "
    "\"The proc tree to read net/netstat, net/snmp and net/snmp6 from (grant it with "
    "read_paths).\"},"
    "\"fields\": {\"type\": \"string\", \"description\": \"Which statistics to export: a "
    "comma-separated list of globs (* matches anything) over Protocol_Field, e.g. "
    "\\\"Tcp_*,Udp_InDatagrams\\\". Default: node_exporter's --collector.netstat.fields.\"}},"
    "\"examples\": [{\"proc_path\": \"/proc\"}]}";

static const wm_capability_request CAPABILITIES[] = {
    {WM_READ_PATH, "/proc",
     "reads net/netstat, net/snmp and net/snmp6 (grant the directory set as proc_path instead "
     "when it is not /proc)",
     false},
};

typedef struct netstat {
    char *proc_path;
    ns_fields fields;
} netstat;

static void netstat_close(void *state) {
    netstat *n = state;
    if (n != NULL) {
        free(n->proc_path);
        ns_fields_free(&n->fields);
        free(n);
    }
}

static int netstat_open(const wm_config *config, void **state, wm_error *err) {
    static const char *const known[] = {"proc_path", "fields", NULL};
    char *proc_path = NULL, *fields = NULL;
    if (wm_config_only(config, known, err) != 0 ||
        wm_config_string(config, "proc_path", &proc_path, err) < 0 ||
        wm_config_string(config, "fields", &fields, err) < 0) {
        free(proc_path);
        return -1;
    }
    netstat *n = calloc(1, sizeof *n);
    if (n == NULL) {
        free(proc_path);
        free(fields);
        return wm_fail(err, WM_OTHER, "out of memory");
    }
    n->proc_path = proc_path != NULL ? proc_path : strdup("/proc");
    size_t len = n->proc_path ? strlen(n->proc_path) : 0;
    while (len > 1 && n->proc_path[len - 1] == '/') {
        n->proc_path[--len] = '\0';
    }
    char message[WM_ERROR_MAX];
    int rc = 0;
    if (n->proc_path == NULL) {
        rc = wm_fail(err, WM_OTHER, "out of memory");
    } else if (n->proc_path[0] != '/' || len > PROC_PATH_MAX) {
        rc = wm_fail(err, WM_INVALID_CONFIG,
                     "proc_path must be an absolute path of at most %d bytes, such as \"/proc\"",
                     PROC_PATH_MAX);
    } else if (ns_fields_parse(fields, &n->fields, message, sizeof message) != 0) {
        rc = wm_fail(err, WM_INVALID_CONFIG, "%s", message);
    }
    free(fields);
    if (rc != 0) {
        netstat_close(n);
        return -1;
    }
    *state = n;
    return 0;
}

/* Reads and parses `<proc_path>/<file>`; a missing optional file is no
 * error (net/snmp6 is absent when IPv6 is disabled). */
static int read_stats(const netstat *n, const char *file, bool snmp6, bool optional,
                      ns_stats *stats, wm_error *err) {
    char path[PROC_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", n->proc_path, file);
    wm_buffer text;
    if (wm_read_file(path, NS_MAX_FILE_BYTES, &text, err) != 0) {
        return optional && err->kind == WM_UNAVAILABLE && err->code == ENOENT ? 0 : -1;
    }
    char message[WM_ERROR_MAX - 64];
    int rc = snmp6 ? ns_parse_snmp6(text.data, text.len, file, stats, message, sizeof message)
                   : ns_parse_pairs(text.data, text.len, file, stats, message, sizeof message);
    wm_buffer_free(&text);
    if (rc != 0) {
        return wm_fail(err, WM_UNAVAILABLE, "%s/%s", n->proc_path, message);
    }
    return 0;
}

static int netstat_collect(void *state, wm_registry *out, wm_error *err) {
    const netstat *n = state;
    ns_stats stats = {0};
    if (read_stats(n, "net/netstat", false, false, &stats, err) != 0 ||
        read_stats(n, "net/snmp", false, false, &stats, err) != 0 ||
        read_stats(n, "net/snmp6", true, true, &stats, err) != 0) {
        ns_stats_free(&stats);
        return -1;
    }
    char name[NS_MAX_NAME + 32], help[NS_MAX_NAME + 32];
    for (size_t i = 0; i < stats.len; i++) {
        const ns_stat *s = &stats.items[i];
        if (!ns_fields_match(&n->fields, s->key)) {
            continue;
        }
        snprintf(name, sizeof name, "node_netstat_%s", s->key);
        /* "Statistic TcpExtListenDrops.": the protocol and field joined. */
        snprintf(help, sizeof help, "Statistic %.*s%s.", (int)s->protocol_len, s->key,
                 s->key + s->protocol_len + 1);
        wm_set(wm_untyped(out, name, help), s->value);
    }
    ns_stats_free(&stats);
    return 0;
}

static const wm_plugin NETSTAT = {
    .name = "c-netstat-exporter",
    .version = "0.1.0",
    .description = "Network statistics from /proc/net/{netstat,snmp,snmp6}, as node_exporter's "
                   "netstat collector",
    .config_schema = SCHEMA,
    .capabilities = CAPABILITIES,
    .capability_count = sizeof CAPABILITIES / sizeof *CAPABILITIES,
    .open = netstat_open,
    .collect = netstat_collect,
    .close = netstat_close,
};

WM_EXPORT_PLUGIN(NETSTAT)
