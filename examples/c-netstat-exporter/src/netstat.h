/* netstat.h: parsing Linux's /proc/net/{netstat,snmp,snmp6} into
 * (Protocol_Field, value) statistics, and selecting them by field patterns,
 * as node_exporter's netstat collector does. Plain C, no SDK, so it is
 * tested natively with fixture files (tests/test_netstat.c). */
#ifndef NETSTAT_H
#define NETSTAT_H

#include <stdbool.h>
#include <stddef.h>

/* Bounds that hostile input cannot get past. Real files are a few KiB with
 * a few hundred statistics. */
#define NS_MAX_FILE_BYTES (1u << 20) /* per file */
#define NS_MAX_STATS 4096            /* over all files */
#define NS_MAX_NAME 128              /* Protocol_Field, in bytes */
#define NS_MAX_VALUE 40              /* a value's text, in bytes */
#define NS_MAX_FIELDS_SPEC 4096      /* the `fields` setting, in bytes */
#define NS_MAX_PATTERNS 256          /* patterns in `fields` */

/* One statistic: `key` is `Protocol_Field` (e.g. `Tcp_InSegs`), the first
 * `protocol_len` bytes of it are the protocol. */
typedef struct ns_stat {
    char key[NS_MAX_NAME + 1];
    size_t protocol_len;
    double value;
} ns_stat;

/* Statistics of all files read in one collection, in file order. */
typedef struct ns_stats {
    ns_stat *items;
    size_t len, cap;
    /* Open-addressing index of `items` by key, to refuse duplicates. */
    unsigned *slots;
    size_t slot_count;
} ns_stats;

void ns_stats_free(ns_stats *stats);

/* Parses `/proc/net/netstat` or `/proc/net/snmp`: pairs of lines, a header
 * `Proto: Field1 Field2 …` and a value line `Proto: 1 2 …`. `file` names
 * the file in errors. Returns 0, or -1 with a message in `err` (then
 * `stats` may hold the statistics of lines before the error). */
int ns_parse_pairs(const char *text, size_t len, const char *file, ns_stats *stats, char *err,
                   size_t err_size);

/* Parses `/proc/net/snmp6`: lines `Ip6InReceives <spaces> 5`, the protocol
 * ending at the first `6` of the name (lines with no `6` or fewer than two
 * fields are skipped, as node_exporter does). */
int ns_parse_snmp6(const char *text, size_t len, const char *file, ns_stats *stats, char *err,
                   size_t err_size);

/* Which statistics to export: glob patterns (`*` matches any run of
 * characters) matched against the whole `Protocol_Field`. */
typedef struct ns_fields {
    char *patterns[NS_MAX_PATTERNS];
    size_t count;
} ns_fields;

/* node_exporter's default `--collector.netstat.fields`, the regular
 * expression
 *   ^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|
 *     Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|
 *     TCPTimeouts|TCPOFOQueue)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|
 *     PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|
 *     NoPorts|RcvbufErrors|SndbufErrors))$
 * written as the equivalent list of globs (the expression is anchored and
 * uses no other construct than alternatives and `.*`). */
extern const char NS_DEFAULT_FIELDS[];

/* Parses a comma-separated list of globs (`Tcp_*, Udp_InDatagrams`);
 * NULL selects NS_DEFAULT_FIELDS. Returns 0, or -1 with a message saying
 * how to write it. */
int ns_fields_parse(const char *spec, ns_fields *fields, char *err, size_t err_size);
void ns_fields_free(ns_fields *fields);
bool ns_fields_match(const ns_fields *fields, const char *key);

/* Whether `text` matches the glob `pattern` (`*` only) as a whole. */
bool ns_glob_match(const char *pattern, const char *text);

#endif
