/* wm_check.h: the assertions of native C tests (the SDK's, the examples',
 * a scaffold's). A failed check is printed with its place and counted in
 * `failures`; a test's main returns failures != 0. */
#ifndef WM_CHECK_H
#define WM_CHECK_H

#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);       \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

#define CHECK_CONTAINS(text, part)                                                         \
    do {                                                                                   \
        if (strstr((text), (part)) == NULL) {                                              \
            fprintf(stderr, "%s:%d: `%s` does not contain `%s`\n", __FILE__, __LINE__,     \
                    (text), (part));                                                       \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

#endif
