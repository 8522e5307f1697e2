/* test_netstat.c: native tests of the netstat parsers and the field
 * selection against fixture files (a real /proc/net snapshot and hostile
 * files), run by `make test`. The default selection is checked against
 * node_exporter's regular expression with POSIX regcomp. */
#include "../src/netstat.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wm_check.h"

static const char *fixtures = "tests/fixtures";


/* The whole fixture file `name`, NUL-terminated; its size in `*len`. */
static char *fixture(const char *name, size_t *len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fixtures, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open fixture %s\n", path);
        exit(2);
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            buf = realloc(buf, cap *= 2);
        }
    }
    fclose(f);
    if (buf == NULL) {
        exit(2);
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static const ns_stat *find(const ns_stats *stats, const char *key) {
    for (size_t i = 0; i < stats->len; i++) {
        if (strcmp(stats->items[i].key, key) == 0) {
            return &stats->items[i];
        }
    }
    return NULL;
}

static double value_of(const ns_stats *stats, const char *key) {
    const ns_stat *stat = find(stats, key);
    if (stat == NULL) {
        fprintf(stderr, "no statistic %s\n", key);
        failures++;
        return -12345;
    }
    return stat->value;
}

/* Parses the real snapshot under fixtures/proc into `stats`. */
static void parse_snapshot(ns_stats *stats) {
    char err[512] = "";
    size_t len;
    char *text = fixture("proc/net/netstat", &len);
    CHECK(ns_parse_pairs(text, len, "net/netstat", stats, err, sizeof err) == 0);
    free(text);
    text = fixture("proc/net/snmp", &len);
    CHECK(ns_parse_pairs(text, len, "net/snmp", stats, err, sizeof err) == 0);
    free(text);
    text = fixture("proc/net/snmp6", &len);
    CHECK(ns_parse_snmp6(text, len, "net/snmp6", stats, err, sizeof err) == 0);
    free(text);
    if (err[0]) {
        fprintf(stderr, "snapshot: %s\n", err);
    }
}

static void test_snapshot(void) {
    ns_stats stats = {0};
    parse_snapshot(&stats);
    /* Values as in the files (see fixtures/proc/net). */
    CHECK(value_of(&stats, "Tcp_MaxConn") == -1);
    CHECK(value_of(&stats, "Tcp_ActiveOpens") == 434944);
    CHECK(value_of(&stats, "Tcp_CurrEstab") == 2);
    CHECK(value_of(&stats, "Ip_Forwarding") == 2);
    CHECK(value_of(&stats, "TcpExt_ListenOverflows") == 44);
    CHECK(value_of(&stats, "TcpExt_TCPTimeouts") == 6);
    CHECK(value_of(&stats, "Ip6_InOctets") == 640);
    CHECK(value_of(&stats, "Udp6_InDatagrams") == 0);
    const ns_stat *icmp6 = find(&stats, "Icmp6_InMsgs");
    CHECK(icmp6 != NULL && icmp6->protocol_len == 5);
    /* Every field of every header line is there: count them the simple
     * way, by words of the header lines (odd lines) and snmp6 lines. */
    size_t expected = 0;
    const char *pairs[] = {"proc/net/netstat", "proc/net/snmp"};
    for (int f = 0; f < 2; f++) {
        size_t len;
        char *text = fixture(pairs[f], &len);
        int line = 0;
        for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n"), line++) {
            if (line % 2 == 0) {
                for (char *w = strchr(l, ' '); w; w = strchr(w + 1, ' ')) {
                    expected += w[1] != '\0' && w[1] != ' ';
                }
            }
        }
        free(text);
    }
    size_t len;
    char *text = fixture("proc/net/snmp6", &len);
    for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
        expected += strchr(l, '6') != NULL;
    }
    free(text);
    CHECK(stats.len == expected);
    ns_stats_free(&stats);
}

static const char NODE_EXPORTER_REGEX[] =
    "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|"
    "TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue)|Tcp_(ActiveOpens|InSegs|"
    "OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|"
    "RcvbufErrors|SndbufErrors))$";

static void test_default_fields_equal_node_exporters_regex(void) {
    regex_t re;
    CHECK(regcomp(&re, NODE_EXPORTER_REGEX, REG_EXTENDED | REG_NOSUB) == 0);
    ns_fields fields;
    char err[512];
    CHECK(ns_fields_parse(NULL, &fields, err, sizeof err) == 0);
    ns_stats stats = {0};
    parse_snapshot(&stats);
    const char *extra[] = {"_InErrors",        "X_InErrs",         "Ip_InErrors",
                           "Ip_ForwardingX",   "IpExt_InOctets",   "Ip6_OutOctets",
                           "Ip7_InOctets",     "Icmp6_OutMsgs",    "Icmp66_OutMsgs",
                           "TcpExt_Listen",    "TcpExt_ListenDrops", "TcpExt_SyncookiesFailed",
                           "TcpExt_TCPOFOQueue", "TcpExt_TCPOFOQueueX", "Tcp_InSegs",
                           "Tcp_InSegsX",      "Udp6_NoPorts",     "UdpLite_NoPorts",
                           "udp_NoPorts",      "Tcp_"};
    size_t selected = 0;
    for (size_t i = 0; i < stats.len + sizeof extra / sizeof *extra; i++) {
        const char *key = i < stats.len ? stats.items[i].key : extra[i - stats.len];
        bool by_regex = regexec(&re, key, 0, NULL, 0) == 0;
        bool by_glob = ns_fields_match(&fields, key);
        if (by_regex != by_glob) {
            fprintf(stderr, "%s: regex %d, globs %d\n", key, by_regex, by_glob);
            failures++;
        }
        selected += i < stats.len && by_glob;
    }
    CHECK(selected > 20 && selected < stats.len);
    ns_stats_free(&stats);
    ns_fields_free(&fields);
    regfree(&re);
}

static void test_globs(void) {
    CHECK(ns_glob_match("*", ""));
    CHECK(ns_glob_match("*", "Tcp_InSegs"));
    CHECK(ns_glob_match("Tcp_*", "Tcp_InSegs"));
    CHECK(!ns_glob_match("Tcp_*", "TcpExt_InSegs"));
    CHECK(ns_glob_match("*_In*s", "Tcp_InSegs"));
    CHECK(ns_glob_match("a*b*c", "aXbYbZc"));
    CHECK(!ns_glob_match("a*b*c", "aXbYbZcd"));
    CHECK(!ns_glob_match("Tcp", "Tcp_InSegs"));
    /* Many stars against a long text stay fast (no exponential backtracking). */
    char pattern[200], text[4097];
    for (int i = 0; i < 99; i++) {
        pattern[2 * i] = '*';
        pattern[2 * i + 1] = 'a';
    }
    pattern[198] = 'b';
    pattern[199] = '\0';
    memset(text, 'a', 4096);
    text[4096] = '\0';
    CHECK(!ns_glob_match(pattern, text));

    ns_fields fields;
    char err[512];
    CHECK(ns_fields_parse(" Tcp_* , Udp_InDatagrams", &fields, err, sizeof err) == 0);
    CHECK(fields.count == 2);
    CHECK(ns_fields_match(&fields, "Tcp_RtoMin"));
    CHECK(ns_fields_match(&fields, "Udp_InDatagrams"));
    CHECK(!ns_fields_match(&fields, "Udp_NoPorts"));
    ns_fields_free(&fields);

    CHECK(ns_fields_parse("^(Tcp_.*)$", &fields, err, sizeof err) == -1);
    CHECK_CONTAINS(err, "not a glob");
    CHECK_CONTAINS(err, "regular expressions are not supported");
    CHECK(ns_fields_parse("Tcp_*,,Udp_*", &fields, err, sizeof err) == -1);
    CHECK_CONTAINS(err, "empty pattern");
    CHECK(ns_fields_parse("", &fields, err, sizeof err) == -1);
    CHECK_CONTAINS(err, "empty pattern");
    char *many = malloc(3 * 300 + 1);
    for (int i = 0; i < 300; i++) {
        memcpy(many + 3 * i, "ab,", 3);
    }
    many[3 * 300 - 1] = '\0';
    CHECK(ns_fields_parse(many, &fields, err, sizeof err) == -1);
    CHECK_CONTAINS(err, "more than 256 patterns");
    free(many);
    char *huge = malloc(100000);
    memset(huge, 'a', 99999);
    huge[99999] = '\0';
    CHECK(ns_fields_parse(huge, &fields, err, sizeof err) == -1);
    CHECK_CONTAINS(err, "longer than 4096 bytes");
    free(huge);
}

/* The hostile fixture `name`, parsed as a header/values file, fails with
 * an error containing `part`. */
static void check_hostile(const char *name, bool snmp6, const char *part) {
    char path[128], err[512] = "";
    snprintf(path, sizeof path, "hostile/%s", name);
    size_t len;
    char *text = fixture(path, &len);
    ns_stats stats = {0};
    int rc = snmp6 ? ns_parse_snmp6(text, len, name, &stats, err, sizeof err)
                   : ns_parse_pairs(text, len, name, &stats, err, sizeof err);
    if (rc != -1) {
        fprintf(stderr, "%s: parsed without an error\n", name);
        failures++;
    }
    CHECK_CONTAINS(err, part);
    CHECK_CONTAINS(err, name);
    ns_stats_free(&stats);
    free(text);
}

static void test_hostile_files(void) {
    check_hostile("mismatch.txt", false, "line 1: Tcp has 4 fields but 3 values");
    check_hostile("not-a-number.txt", false, "line 2: Tcp_RtoMin is `0x20`, not a number");
    check_hostile("no-values.txt", false, "line 3: the header of Tcp has no value line");
    check_hostile("bad-header.txt", false, "is proc_path a Linux proc tree?");
    check_hostile("duplicate.txt", false, "Tcp_InSegs appears twice");
    check_hostile("wrong-protocol.txt", false, "the values of Tcp start with `Udp:`");
    check_hostile("snmp6-bad-name.txt", true, "line 2: `Ip6In?` is not a statistic name");
    check_hostile("nul-byte.txt", false, "`InSegs?` is not a field name");
    check_hostile("long-value.txt", false, "is `99999999999999999999999999999999...`");
}

static void test_huge_input(void) {
    char err[512];
    ns_stats stats = {0};
    /* One header of 200,000 fields and as many values: refused at the
     * bound, not an allocation of everything. */
    size_t fields = 200000, cap = 16 + fields * 16;
    char *text = malloc(cap);
    size_t n = (size_t)sprintf(text, "Tcp:");
    for (size_t i = 0; i < fields; i++) {
        n += (size_t)sprintf(text + n, " F%zu", i);
    }
    n += (size_t)sprintf(text + n, "\nTcp:");
    for (size_t i = 0; i < fields; i++) {
        n += (size_t)sprintf(text + n, " %zu", i);
    }
    CHECK(ns_parse_pairs(text, n, "net/snmp", &stats, err, sizeof err) == -1);
    CHECK_CONTAINS(err, "more than 4096 statistics");
    CHECK(stats.len == NS_MAX_STATS);
    ns_stats_free(&stats);

    /* A name of 1 MiB. */
    size_t big = 1 << 20;
    char *name = malloc(big + 32);
    memcpy(name, "Tcp: ", 5);
    memset(name + 5, 'A', big);
    memcpy(name + 5 + big, "\nTcp: 1\n", 8);
    CHECK(ns_parse_pairs(name, big + 13, "net/snmp", &stats, err, sizeof err) == -1);
    CHECK_CONTAINS(err, "is longer than 128 bytes");
    ns_stats_free(&stats);
    free(name);
    free(text);

    /* Blank lines and a missing final newline are fine; an empty file
     * gives nothing. */
    const char ok[] = "\n\nTcp: A B\nTcp: 1 2";
    CHECK(ns_parse_pairs(ok, sizeof ok - 1, "net/snmp", &stats, err, sizeof err) == 0);
    CHECK(stats.len == 2 && value_of(&stats, "Tcp_B") == 2);
    CHECK(ns_parse_pairs("", 0, "net/netstat", &stats, err, sizeof err) == 0);
    CHECK(stats.len == 2);
    ns_stats_free(&stats);
}

int main(int argc, char **argv) {
    if (argc > 1) {
        fixtures = argv[1];
    }
    test_snapshot();
    test_default_fields_equal_node_exporters_regex();
    test_globs();
    test_hostile_files();
    test_huge_input();
    if (failures) {
        fprintf(stderr, "test_netstat: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_netstat: all checks passed\n");
    return 0;
}
