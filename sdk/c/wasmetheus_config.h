/* wasmetheus_config.h: the implementation of wasmetheus.h's config
 * reader: a validating JSON scanner (RFC 8259, bounded in size, depth and
 * keys) and the lookups of top-level settings. Included by wasmetheus.h
 * where WASMETHEUS_IMPLEMENTATION is defined; not meant to be included on
 * its own. */
#ifndef WASMETHEUS_CONFIG_H
#define WASMETHEUS_CONFIG_H

/* ---- JSON config ------------------------------------------------------- */

typedef struct wm__json {
    const char *start, *p, *end;
    int depth;
    const char *problem;
    /* A key given twice in one object (malloc'd), when that is the fault. */
    char *duplicate;
} wm__json;

static void wm__ws(wm__json *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) {
        j->p++;
    }
}

static int wm__bad(wm__json *j, const char *problem) {
    if (j->problem == NULL) {
        j->problem = problem;
    }
    return -1;
}

static int wm__hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (unsigned)(c - 'A' + 10);
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

/* Scans a string at j->p (on its opening quote). With `out` (room for the
 * raw length + 1), decodes it there: UTF-8, NUL-terminated, `*out_len`
 * its length; `*has_nul` when it holds \u0000. */
static int wm__string_at(wm__json *j, char *out, size_t *out_len, bool *has_nul) {
    size_t n = 0;
    j->p++; /* the quote */
    while (true) {
        if (j->p >= j->end) {
            return wm__bad(j, "unterminated string");
        }
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            j->p++;
            break;
        }
        if (c < 0x20) {
            return wm__bad(j, "control character in a string (escape it)");
        }
        if (c != '\\') {
            if (out) {
                out[n] = (char)c;
            }
            n++;
            j->p++;
            continue;
        }
        if (j->end - j->p < 2) {
            return wm__bad(j, "unterminated escape");
        }
        char e = j->p[1];
        j->p += 2;
        char simple = e == '"' ? '"' : e == '\\' ? '\\' : e == '/' ? '/' : e == 'b' ? '\b'
                    : e == 'f' ? '\f' : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : 0;
        if (simple) {
            if (out) {
                out[n] = simple;
            }
            n++;
            continue;
        }
        unsigned cp;
        if (e != 'u' || j->end - j->p < 4 || wm__hex4(j->p, &cp) != 0) {
            j->p -= 2;
            return wm__bad(j, "invalid escape in a string");
        }
        j->p += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned low;
            if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
                wm__hex4(j->p + 2, &low) != 0 || low < 0xDC00 || low > 0xDFFF) {
                return wm__bad(j, "unpaired surrogate in a \\u escape");
            }
            j->p += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return wm__bad(j, "unpaired surrogate in a \\u escape");
        }
        if (cp == 0 && has_nul) {
            *has_nul = true;
        }
        /* UTF-8 is never longer than the escape (6 or 12 bytes). */
        unsigned char u[4];
        size_t k = 0;
        if (cp < 0x80) {
            u[k++] = (unsigned char)cp;
        } else if (cp < 0x800) {
            u[k++] = (unsigned char)(0xC0 | (cp >> 6));
            u[k++] = (unsigned char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            u[k++] = (unsigned char)(0xE0 | (cp >> 12));
            u[k++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            u[k++] = (unsigned char)(0x80 | (cp & 0x3F));
        } else {
            u[k++] = (unsigned char)(0xF0 | (cp >> 18));
            u[k++] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
            u[k++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            u[k++] = (unsigned char)(0x80 | (cp & 0x3F));
        }
        if (out) {
            memcpy(out + n, u, k);
        }
        n += k;
    }
    if (out) {
        out[n] = '\0';
    }
    if (out_len) {
        *out_len = n;
    }
    return 0;
}

static bool wm__digit(const wm__json *j) {
    return j->p < j->end && *j->p >= '0' && *j->p <= '9';
}

static int wm__number(wm__json *j) {
    if (j->p < j->end && *j->p == '-') {
        j->p++;
    }
    if (!wm__digit(j)) {
        return wm__bad(j, "invalid number");
    }
    if (*j->p == '0') {
        j->p++;
    } else {
        while (wm__digit(j)) {
            j->p++;
        }
    }
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!wm__digit(j)) {
            return wm__bad(j, "invalid number");
        }
        while (wm__digit(j)) {
            j->p++;
        }
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) {
            j->p++;
        }
        if (!wm__digit(j)) {
            return wm__bad(j, "invalid number");
        }
        while (wm__digit(j)) {
            j->p++;
        }
    }
    return 0;
}

static int wm__literal(wm__json *j, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0) {
        return wm__bad(j, "expected a value (object, array, string, number, true, false or null)");
    }
    j->p += n;
    return 0;
}

/* The decoded keys of one object, to refuse one given twice. */
typedef struct wm__key {
    char *text;
    size_t len;
} wm__key;

typedef struct wm__keyset {
    wm__key *items;
    size_t count, capacity;
} wm__keyset;

/* Adds the key whose opening quote is at `raw` (already scanned). */
static int wm__keyset_add(wm__json *j, wm__keyset *keys, const char *raw) {
    if (keys->count == keys->capacity) {
        size_t capacity = keys->capacity ? 2 * keys->capacity : 8;
        wm__key *items = (wm__key *)realloc(keys->items, capacity * sizeof *items);
        if (items == NULL) {
            return wm__bad(j, "out of memory");
        }
        keys->items = items;
        keys->capacity = capacity;
    }
    char *text = (char *)malloc((size_t)(j->p - raw) + 1);
    if (text == NULL) {
        return wm__bad(j, "out of memory");
    }
    wm__json k = {j->start, raw, j->p, 0, NULL, NULL};
    size_t len = 0;
    wm__string_at(&k, text, &len, NULL);
    keys->items[keys->count++] = (wm__key){text, len};
    return 0;
}

static int wm__key_order(const void *a, const void *b) {
    const wm__key *x = (const wm__key *)a, *y = (const wm__key *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->text, y->text, n);
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* Fails naming a key given twice in the object (sorted: n log n). */
static int wm__keyset_check(wm__json *j, wm__keyset *keys) {
    if (keys->count < 2) {
        return 0;
    }
    qsort(keys->items, keys->count, sizeof *keys->items, wm__key_order);
    for (size_t i = 1; i < keys->count; i++) {
        if (wm__key_order(&keys->items[i - 1], &keys->items[i]) == 0) {
            j->duplicate = keys->items[i].text;
            keys->items[i].text = NULL; /* kept for the message */
            return -1;
        }
    }
    return 0;
}

/* Skips one value (validating it), nesting at most WM_CONFIG_DEPTH. */
static int wm__value(wm__json *j) {
    wm__ws(j);
    if (j->p >= j->end) {
        return wm__bad(j, "expected a value, found the end");
    }
    char c = *j->p;
    if (c == '"') {
        return wm__string_at(j, NULL, NULL, NULL);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        return wm__number(j);
    }
    if (c == 't') {
        return wm__literal(j, "true");
    }
    if (c == 'f') {
        return wm__literal(j, "false");
    }
    if (c == 'n') {
        return wm__literal(j, "null");
    }
    if (c != '{' && c != '[') {
        return wm__bad(j, "expected a value (object, array, string, number, true, false or null)");
    }
    if (++j->depth > WM_CONFIG_DEPTH) {
        return wm__bad(j, "nested too deeply");
    }
    char close = c == '{' ? '}' : ']';
    j->p++;
    wm__ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return 0;
    }
    wm__keyset keys = {NULL, 0, 0};
    int rc = -1;
    while (true) {
        if (close == '}') {
            wm__ws(j);
            if (j->p >= j->end || *j->p != '"') {
                wm__bad(j, "expected a string key");
                break;
            }
            const char *key = j->p;
            if (wm__string_at(j, NULL, NULL, NULL) != 0 || wm__keyset_add(j, &keys, key) != 0) {
                break;
            }
            wm__ws(j);
            if (j->p >= j->end || *j->p != ':') {
                wm__bad(j, "expected ':' after a key");
                break;
            }
            j->p++;
        }
        if (wm__value(j) != 0) {
            break;
        }
        wm__ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            j->depth--;
            rc = wm__keyset_check(j, &keys);
            break;
        }
        wm__bad(j, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
        break;
    }
    for (size_t i = 0; i < keys.count; i++) {
        free(keys.items[i].text);
    }
    free(keys.items);
    return rc;
}

/* Calls `visit(key, key_len, value_start, ctx)` for each top-level member
 * of a validated config, until it returns nonzero (which is returned). A
 * key longer than WM_CONFIG_MAX_KEY bytes is visited as NULL. */
static int wm__members(const wm_config *config,
                       int (*visit)(const char *key, size_t key_len, wm__json *value, void *ctx),
                       void *ctx) {
    wm__json j = {config->json, config->json, config->json + config->len, 0, NULL, NULL};
    wm__ws(&j);
    if (j.p >= j.end) {
        return 0; /* "" is {} */
    }
    j.p++; /* '{' */
    wm__ws(&j);
    if (*j.p == '}') {
        return 0;
    }
    char small[WM_CONFIG_MAX_KEY + 1];
    while (true) {
        wm__ws(&j);
        const char *key_start = j.p;
        if (wm__string_at(&j, NULL, NULL, NULL) != 0) {
            return 0;
        }
        size_t raw = (size_t)(j.p - key_start);
        size_t key_len = SIZE_MAX; /* longer keys: visited as NULL */
        if (raw <= WM_CONFIG_MAX_KEY) {
            wm__json k = {config->json, key_start, j.p, 0, NULL, NULL};
            wm__string_at(&k, small, &key_len, NULL);
        }
        wm__ws(&j);
        j.p++; /* ':' */
        wm__ws(&j);
        wm__json value = j;
        int rc = visit(key_len == SIZE_MAX ? NULL : small, key_len, &value, ctx);
        if (rc != 0) {
            return rc;
        }
        wm__value(&j);
        wm__ws(&j);
        if (j.p >= j.end || *j.p != ',') {
            return 0;
        }
        j.p++;
    }
}

typedef struct wm__keys {
    const char *keys[WM_CONFIG_MAX_KEYS];
    size_t lens[WM_CONFIG_MAX_KEYS];
    size_t count;
    wm_error *err;
} wm__keys;

static int wm__collect_key(const char *key, size_t len, wm__json *value, void *ctx) {
    (void)value;
    wm__keys *keys = (wm__keys *)ctx;
    if (key == NULL) {
        return wm_fail(keys->err, WM_INVALID_CONFIG,
                       "the config has a setting name longer than %d bytes", WM_CONFIG_MAX_KEY);
    }
    if (keys->count == WM_CONFIG_MAX_KEYS) {
        return wm_fail(keys->err, WM_INVALID_CONFIG, "the config has more than %d settings",
                       WM_CONFIG_MAX_KEYS);
    }
    for (size_t i = 0; i < keys->count; i++) {
        if (keys->lens[i] == len && memcmp(keys->keys[i], key, len) == 0) {
            return wm_fail(keys->err, WM_INVALID_CONFIG,
                           "config gives the key \"%.*s\" twice in one object; keep one", (int)len, key);
        }
    }
    char *copy = (char *)malloc(len + 1);
    if (copy == NULL) {
        return wm_fail(keys->err, WM_OTHER, "out of memory reading the config");
    }
    memcpy(copy, key, len);
    copy[len] = '\0';
    keys->keys[keys->count] = copy;
    keys->lens[keys->count] = len;
    keys->count++;
    return 0;
}

/* "line L column C" (1-based, columns in characters) of `at`. */
static void wm__where(const char *start, const char *at, size_t *line, size_t *column) {
    *line = 1;
    *column = 1;
    for (const char *p = start; p < at; p++) {
        if (*p == '\n') {
            (*line)++;
            *column = 1;
        } else if (((unsigned char)*p & 0xC0) != 0x80) {
            (*column)++;
        }
    }
}

int wm_config_parse(wm_config *config, const char *json, size_t len, wm_error *err) {
    config->json = json;
    config->len = len;
    if (len > WM_CONFIG_MAX) {
        return wm_fail(err, WM_INVALID_CONFIG,
                       "config is %zu bytes, more than the limit of %u bytes (1 MiB); keep large "
                       "data in a granted file and name it in the config",
                       len, WM_CONFIG_MAX);
    }
    wm__json j = {json, json, json + len, 0, NULL, NULL};
    wm__ws(&j);
    if (j.p == j.end) {
        return 0; /* "" is {}: every setting at its default */
    }
    const char *first = j.p;
    int rc = wm__value(&j);
    if (rc == 0) {
        wm__ws(&j);
        if (j.p != j.end) {
            rc = wm__bad(&j, "text after the value");
        }
    }
    if (rc != 0 && j.duplicate != NULL) {
        wm_fail(err, WM_INVALID_CONFIG,
                "config gives the key \"%.*s\" twice in one object; keep one",
                (int)strnlen(j.duplicate, 64), j.duplicate);
        free(j.duplicate);
        return -1;
    }
    if (rc != 0) {
        size_t line, column;
        wm__where(j.start, j.p, &line, &column);
        return wm_fail(err, WM_INVALID_CONFIG,
                       "config is not valid JSON: %s at line %zu column %zu", j.problem, line,
                       column);
    }
    if (*first != '{') {
        return wm_fail(err, WM_INVALID_CONFIG,
                       "config: expected a JSON object of settings (`{\"setting\": value}`), "
                       "got %s",
                       *first == '"' ? "a string" : *first == '[' ? "an array"
                       : *first == 't' || *first == 'f' ? "a boolean"
                       : *first == 'n' ? "null" : "a number");
    }
    wm__keys *keys = (wm__keys *)calloc(1, sizeof *keys);
    if (keys == NULL) {
        return wm_fail(err, WM_OTHER, "out of memory reading the config");
    }
    keys->err = err;
    rc = wm__members(config, wm__collect_key, keys);
    for (size_t i = 0; i < keys->count; i++) {
        free((void *)keys->keys[i]);
    }
    free(keys);
    return rc == 0 ? 0 : -1;
}

typedef struct wm__only {
    const char *const *known;
    wm_error *err;
} wm__only;

static int wm__check_known(const char *key, size_t len, wm__json *value, void *ctx) {
    (void)value;
    wm__only *only = (wm__only *)ctx;
    for (const char *const *k = only->known; *k && key; k++) {
        if (strlen(*k) == len && memcmp(*k, key, len) == 0) {
            return 0;
        }
    }
    char list[512] = "";
    size_t used = 0;
    for (const char *const *k = only->known; *k && used < sizeof list; k++) {
        int n = snprintf(list + used, sizeof list - used, "%s%s", k == only->known ? "" : ", ",
                         *k);
        used += n > 0 ? (size_t)n : 0;
    }
    return wm_fail(only->err, WM_INVALID_CONFIG, "unknown setting \"%.*s\"; the settings are: %s",
                   len > 64 ? 64 : (int)len, key ? key : "", list[0] ? list : "(none)");
}

int wm_config_only(const wm_config *config, const char *const *known, wm_error *err) {
    wm__only only = {known, err};
    return wm__members(config, wm__check_known, &only) == 0 ? 0 : -1;
}

typedef struct wm__find {
    const char *key;
    wm__json value;
    bool found;
} wm__find;

static int wm__find_key(const char *key, size_t len, wm__json *value, void *ctx) {
    wm__find *find = (wm__find *)ctx;
    if (key != NULL && strlen(find->key) == len && memcmp(find->key, key, len) == 0) {
        find->value = *value;
        find->found = true;
        return 1;
    }
    return 0;
}

/* The value of `key`: 1 (in *value), or 0 when absent or null. */
static int wm__lookup(const wm_config *config, const char *key, wm__json *value) {
    wm__find find = {key, {0}, false};
    wm__members(config, wm__find_key, &find);
    if (!find.found || (find.value.end - find.value.p >= 4 &&
                        memcmp(find.value.p, "null", 4) == 0)) {
        return 0;
    }
    *value = find.value;
    return 1;
}

static const char *wm__type_name(char c) {
    return c == '"' ? "a string" : c == '{' ? "an object" : c == '[' ? "an array"
         : c == 't' || c == 'f' ? "a boolean" : "a number";
}

int wm_config_string(const wm_config *config, const char *key, char **out, wm_error *err) {
    wm__json value;
    *out = NULL;
    if (wm__lookup(config, key, &value) == 0) {
        return 0;
    }
    if (*value.p != '"') {
        return wm_fail(err, WM_INVALID_CONFIG, "the setting \"%s\" must be a string, not %s",
                       key, wm__type_name(*value.p));
    }
    const char *start = value.p;
    wm__string_at(&value, NULL, NULL, NULL);
    char *text = (char *)malloc((size_t)(value.p - start) + 1);
    if (text == NULL) {
        return wm_fail(err, WM_OTHER, "out of memory reading the config");
    }
    wm__json again = {config->json, start, value.p, 0, NULL, NULL};
    bool has_nul = false;
    wm__string_at(&again, text, NULL, &has_nul);
    if (has_nul) {
        free(text);
        return wm_fail(err, WM_INVALID_CONFIG, "the setting \"%s\" must not contain \\u0000",
                       key);
    }
    *out = text;
    return 1;
}

int wm_config_bool(const wm_config *config, const char *key, bool *out, wm_error *err) {
    wm__json value;
    if (wm__lookup(config, key, &value) == 0) {
        return 0;
    }
    if (*value.p != 't' && *value.p != 'f') {
        return wm_fail(err, WM_INVALID_CONFIG, "the setting \"%s\" must be true or false, not %s",
                       key, wm__type_name(*value.p));
    }
    *out = *value.p == 't';
    return 1;
}

int wm_config_number(const wm_config *config, const char *key, double *out, wm_error *err) {
    wm__json value;
    if (wm__lookup(config, key, &value) == 0) {
        return 0;
    }
    if (*value.p != '-' && (*value.p < '0' || *value.p > '9')) {
        return wm_fail(err, WM_INVALID_CONFIG, "the setting \"%s\" must be a number, not %s",
                       key, wm__type_name(*value.p));
    }
    const char *start = value.p;
    wm__number(&value);
    char buf[64];
    size_t n = (size_t)(value.p - start);
    if (n >= sizeof buf) {
        return wm_fail(err, WM_INVALID_CONFIG, "the setting \"%s\" is a number too long to read",
                       key);
    }
    memcpy(buf, start, n);
    buf[n] = '\0';
    *out = strtod(buf, NULL);
    return 1;
}

#endif
