/* netstat.c: the parsers of /proc/net/{netstat,snmp,snmp6} and the field
 * selection (see netstat.h). Every input is bounded: names, values, the
 * number of statistics; anything unexpected is an error naming the file,
 * the line and what to check, never a crash. */
#include "netstat.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char NS_DEFAULT_FIELDS[] =
    "*_InErrors,*_InErrs,Ip_Forwarding,"
    "Ip6_InOctets,Ip6_OutOctets,IpExt_InOctets,IpExt_OutOctets,"
    "Icmp_InMsgs,Icmp_OutMsgs,Icmp6_InMsgs,Icmp6_OutMsgs,"
    "TcpExt_Listen*,TcpExt_Syncookies*,TcpExt_TCPSynRetrans,TcpExt_TCPTimeouts,"
    "TcpExt_TCPOFOQueue,"
    "Tcp_ActiveOpens,Tcp_InSegs,Tcp_OutSegs,Tcp_OutRsts,Tcp_PassiveOpens,Tcp_RetransSegs,"
    "Tcp_CurrEstab,"
    "Udp_InDatagrams,Udp_OutDatagrams,Udp_NoPorts,Udp_RcvbufErrors,Udp_SndbufErrors,"
    "Udp6_InDatagrams,Udp6_OutDatagrams,Udp6_NoPorts,Udp6_RcvbufErrors,Udp6_SndbufErrors";

/* A piece of the input: not NUL-terminated. */
typedef struct span {
    const char *ptr;
    size_t len;
} span;

static int fail(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_size, const char *fmt, ...) {
    if (err_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* `s` made printable and short, for an error message. */
static const char *shown(span s, char buf[48]) {
    size_t n = 0;
    for (size_t i = 0; i < s.len && n < 32; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        buf[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (s.len > 32) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

static bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* The next line of `text` from `*pos` (without its '\n'); false at the end. */
static bool next_line(const char *text, size_t len, size_t *pos, span *line) {
    if (*pos >= len) {
        return false;
    }
    const char *start = text + *pos;
    const char *nl = memchr(start, '\n', len - *pos);
    size_t n = nl ? (size_t)(nl - start) : len - *pos;
    line->ptr = start;
    line->len = n;
    *pos += n + (nl ? 1 : 0);
    return true;
}

/* The next blank-separated token of `*rest`; false when none is left. */
static bool next_token(span *rest, span *token) {
    size_t i = 0;
    while (i < rest->len && is_blank(rest->ptr[i])) {
        i++;
    }
    if (i == rest->len) {
        rest->ptr += i;
        rest->len = 0;
        return false;
    }
    size_t start = i;
    while (i < rest->len && !is_blank(rest->ptr[i])) {
        i++;
    }
    token->ptr = rest->ptr + start;
    token->len = i - start;
    rest->ptr += i;
    rest->len -= i;
    return true;
}

static size_t count_tokens(span line) {
    size_t n = 0;
    span token;
    while (next_token(&line, &token)) {
        n++;
    }
    return n;
}

static bool is_blank_line(span line) {
    span token;
    return !next_token(&line, &token);
}

/* A protocol name: a letter, then letters and digits. */
static bool valid_protocol(span s) {
    if (s.len == 0 || !is_alpha(s.ptr[0])) {
        return false;
    }
    for (size_t i = 1; i < s.len; i++) {
        if (!is_alpha(s.ptr[i]) && !is_digit(s.ptr[i])) {
            return false;
        }
    }
    return true;
}

/* A field name: letters, digits and `_`. */
static bool valid_field(span s) {
    if (s.len == 0) {
        return false;
    }
    for (size_t i = 0; i < s.len; i++) {
        if (!is_alpha(s.ptr[i]) && !is_digit(s.ptr[i]) && s.ptr[i] != '_') {
            return false;
        }
    }
    return true;
}

/* A decimal number as the kernel prints it: `[+-]?[0-9]+(\.[0-9]+)?`. */
static bool parse_value(span s, double *value) {
    if (s.len == 0 || s.len > NS_MAX_VALUE) {
        return false;
    }
    size_t i = 0;
    if (s.ptr[0] == '-' || s.ptr[0] == '+') {
        i++;
    }
    size_t digits = 0;
    while (i < s.len && is_digit(s.ptr[i])) {
        i++;
        digits++;
    }
    if (digits == 0) {
        return false;
    }
    if (i < s.len && s.ptr[i] == '.') {
        i++;
        size_t fraction = 0;
        while (i < s.len && is_digit(s.ptr[i])) {
            i++;
            fraction++;
        }
        if (fraction == 0) {
            return false;
        }
    }
    if (i != s.len) {
        return false;
    }
    char buf[NS_MAX_VALUE + 1];
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = '\0';
    *value = strtod(buf, NULL);
    return true;
}

static uint32_t hash_key(const char *key) {
    uint32_t h = 2166136261u;
    for (; *key; key++) {
        h = (h ^ (unsigned char)*key) * 16777619u;
    }
    return h;
}

void ns_stats_free(ns_stats *stats) {
    free(stats->items);
    free(stats->slots);
    memset(stats, 0, sizeof *stats);
}

/* Appends `protocol_field = value`; refuses duplicates and too many. */
static int add_stat(ns_stats *stats, span protocol, span field, double value, const char *file,
                    size_t line_no, char *err, size_t err_size) {
    char a[48], b[48];
    if (protocol.len + 1 + field.len > NS_MAX_NAME) {
        return fail(err, err_size, "%s line %zu: the name %s_%s is longer than %d bytes", file,
                    line_no, shown(protocol, a), shown(field, b), NS_MAX_NAME);
    }
    if (stats->len >= NS_MAX_STATS) {
        return fail(err, err_size,
                    "%s line %zu: more than %d statistics in all; is proc_path a Linux proc tree?",
                    file, line_no, NS_MAX_STATS);
    }
    if (stats->slots == NULL) {
        stats->slot_count = 2 * NS_MAX_STATS;
        stats->slots = calloc(stats->slot_count, sizeof *stats->slots);
        if (stats->slots == NULL) {
            return fail(err, err_size, "out of memory");
        }
    }
    if (stats->len == stats->cap) {
        size_t cap = stats->cap ? 2 * stats->cap : 64;
        ns_stat *items = realloc(stats->items, cap * sizeof *items);
        if (items == NULL) {
            return fail(err, err_size, "out of memory");
        }
        stats->items = items;
        stats->cap = cap;
    }
    ns_stat *stat = &stats->items[stats->len];
    memcpy(stat->key, protocol.ptr, protocol.len);
    stat->key[protocol.len] = '_';
    memcpy(stat->key + protocol.len + 1, field.ptr, field.len);
    stat->key[protocol.len + 1 + field.len] = '\0';
    stat->protocol_len = protocol.len;
    stat->value = value;
    size_t mask = stats->slot_count - 1;
    for (size_t i = hash_key(stat->key) & mask;; i = (i + 1) & mask) {
        unsigned slot = stats->slots[i];
        if (slot == 0) {
            stats->slots[i] = (unsigned)stats->len + 1;
            break;
        }
        if (strcmp(stats->items[slot - 1].key, stat->key) == 0) {
            return fail(err, err_size, "%s line %zu: %s appears twice", file, line_no,
                        stat->key);
        }
    }
    stats->len++;
    return 0;
}

int ns_parse_pairs(const char *text, size_t len, const char *file, ns_stats *stats, char *err,
                   size_t err_size) {
    char a[48], b[48];
    size_t pos = 0, line_no = 0;
    span header;
    while (next_line(text, len, &pos, &header)) {
        line_no++;
        if (is_blank_line(header)) {
            continue;
        }
        size_t header_no = line_no;
        span names = header, values, name_tok, value_tok;
        next_token(&names, &name_tok);
        if (name_tok.len < 2 || name_tok.ptr[name_tok.len - 1] != ':') {
            return fail(err, err_size,
                        "%s line %zu: expected a header such as `Tcp: RtoAlgorithm ...`, found "
                        "`%s`; is proc_path a Linux proc tree?",
                        file, header_no, shown(name_tok, a));
        }
        span protocol = {name_tok.ptr, name_tok.len - 1};
        if (!valid_protocol(protocol)) {
            return fail(err, err_size,
                        "%s line %zu: `%s` is not a protocol name (letters and digits)", file,
                        header_no, shown(protocol, a));
        }
        if (!next_line(text, len, &pos, &values)) {
            return fail(err, err_size, "%s line %zu: the header of %s has no value line", file,
                        header_no, shown(protocol, a));
        }
        line_no++;
        size_t name_count = count_tokens(header), value_count = count_tokens(values);
        if (name_count != value_count) {
            return fail(err, err_size,
                        "%s line %zu: %s has %zu fields but %zu values on the next line", file,
                        header_no, shown(protocol, a), name_count - 1,
                        value_count ? value_count - 1 : 0);
        }
        next_token(&values, &value_tok);
        if (value_tok.len != name_tok.len || memcmp(value_tok.ptr, name_tok.ptr, name_tok.len)) {
            return fail(err, err_size,
                        "%s line %zu: the values of %s start with `%s`, not `%s:`", file,
                        line_no, shown(protocol, a), shown(value_tok, b), shown(protocol, a));
        }
        while (next_token(&names, &name_tok) && next_token(&values, &value_tok)) {
            double value;
            if (!valid_field(name_tok)) {
                return fail(err, err_size,
                            "%s line %zu: `%s` is not a field name (letters, digits and _)",
                            file, header_no, shown(name_tok, a));
            }
            if (!parse_value(value_tok, &value)) {
                return fail(err, err_size, "%s line %zu: %s_%s is `%s`, not a number", file,
                            line_no, shown(protocol, a), shown(name_tok, b),
                            shown(value_tok, (char[48]){0}));
            }
            if (add_stat(stats, protocol, name_tok, value, file, line_no, err, err_size) != 0) {
                return -1;
            }
        }
    }
    return 0;
}

int ns_parse_snmp6(const char *text, size_t len, const char *file, ns_stats *stats, char *err,
                   size_t err_size) {
    char a[48], b[48];
    size_t pos = 0, line_no = 0;
    span line;
    while (next_line(text, len, &pos, &line)) {
        line_no++;
        span rest = line, name, value_tok;
        if (!next_token(&rest, &name) || !next_token(&rest, &value_tok)) {
            continue;
        }
        const char *six = memchr(name.ptr, '6', name.len);
        if (six == NULL) {
            continue;
        }
        span protocol = {name.ptr, (size_t)(six - name.ptr) + 1};
        span field = {six + 1, name.len - protocol.len};
        if (!valid_protocol(protocol) || !valid_field(field)) {
            return fail(err, err_size,
                        "%s line %zu: `%s` is not a statistic name such as Ip6InReceives", file,
                        line_no, shown(name, a));
        }
        double value;
        if (!parse_value(value_tok, &value)) {
            return fail(err, err_size, "%s line %zu: %s is `%s`, not a number", file, line_no,
                        shown(name, a), shown(value_tok, b));
        }
        if (add_stat(stats, protocol, field, value, file, line_no, err, err_size) != 0) {
            return -1;
        }
    }
    return 0;
}

static const char FIELDS_SYNTAX[] =
    "write fields as a comma-separated list of globs of letters, digits, _ and *, e.g. "
    "\"Tcp_*,Udp_InDatagrams\" (regular expressions are not supported), or leave it out for "
    "node_exporter's default selection";

int ns_fields_parse(const char *spec, ns_fields *fields, char *err, size_t err_size) {
    char a[48];
    memset(fields, 0, sizeof *fields);
    if (spec == NULL) {
        spec = NS_DEFAULT_FIELDS;
    }
    size_t len = strlen(spec);
    if (len > NS_MAX_FIELDS_SPEC) {
        return fail(err, err_size, "fields is longer than %d bytes; %s", NS_MAX_FIELDS_SPEC,
                    FIELDS_SYNTAX);
    }
    span rest = {spec, len};
    while (true) {
        const char *comma = memchr(rest.ptr, ',', rest.len);
        span item = {rest.ptr, comma ? (size_t)(comma - rest.ptr) : rest.len};
        while (item.len > 0 && is_blank(item.ptr[0])) {
            item.ptr++;
            item.len--;
        }
        while (item.len > 0 && is_blank(item.ptr[item.len - 1])) {
            item.len--;
        }
        if (item.len == 0) {
            ns_fields_free(fields);
            return fail(err, err_size, "fields has an empty pattern; %s", FIELDS_SYNTAX);
        }
        for (size_t i = 0; i < item.len; i++) {
            char c = item.ptr[i];
            if (!is_alpha(c) && !is_digit(c) && c != '_' && c != '*') {
                ns_fields_free(fields);
                return fail(err, err_size, "fields: `%s` is not a glob; %s", shown(item, a),
                            FIELDS_SYNTAX);
            }
        }
        if (fields->count == NS_MAX_PATTERNS) {
            ns_fields_free(fields);
            return fail(err, err_size, "fields has more than %d patterns", NS_MAX_PATTERNS);
        }
        char *pattern = malloc(item.len + 1);
        if (pattern == NULL) {
            ns_fields_free(fields);
            return fail(err, err_size, "out of memory");
        }
        memcpy(pattern, item.ptr, item.len);
        pattern[item.len] = '\0';
        fields->patterns[fields->count++] = pattern;
        if (comma == NULL) {
            return 0;
        }
        rest.len -= (size_t)(comma - rest.ptr) + 1;
        rest.ptr = comma + 1;
    }
}

void ns_fields_free(ns_fields *fields) {
    for (size_t i = 0; i < fields->count; i++) {
        free(fields->patterns[i]);
    }
    fields->count = 0;
}

bool ns_fields_match(const ns_fields *fields, const char *key) {
    for (size_t i = 0; i < fields->count; i++) {
        if (ns_glob_match(fields->patterns[i], key)) {
            return true;
        }
    }
    return false;
}

/* The classic linear glob matcher: on a mismatch, the last `*` takes one
 * more character; at most len(pattern) * len(text) steps. */
bool ns_glob_match(const char *pattern, const char *text) {
    const char *star = NULL, *resume = NULL;
    while (*text) {
        if (*pattern == '*') {
            star = ++pattern;
            resume = text;
        } else if (*pattern == *text) {
            pattern++;
            text++;
        } else if (star) {
            pattern = star;
            text = ++resume;
        } else {
            return false;
        }
    }
    while (*pattern == '*') {
        pattern++;
    }
    return *pattern == '\0';
}
