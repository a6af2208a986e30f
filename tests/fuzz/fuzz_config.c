/* fuzz_config.c - libFuzzer target for the config loader (tests/fuzz/run.sh).
 *
 * Any bytes go to config_load_buffer. Oracles: a failure leaves one NUL-terminated
 * message; a config that loads passes config_check, and what config_print writes of it
 * loads again and prints the same (the printed file is a faithful, loadable copy).
 */
#define _GNU_SOURCE                 /* open_memstream */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_config: %s:%d: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* cfg as config_print writes it; malloc'd, *len bytes. */
static char *print(const struct ecc_config *cfg, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);

    CHECK(f != NULL);
    config_print(cfg, f);
    CHECK(fclose(f) == 0);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ecc_config *cfg = malloc(sizeof *cfg), *again = malloc(sizeof *again);
    char err[256];
    size_t len1, len2;

    memset(err, 'x', sizeof err);
    if (config_load_buffer(cfg, "fuzz.ini", (const char *)data, size, err, sizeof err) < 0) {
        CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0');
    } else {
        CHECK(config_check(cfg, err, sizeof err) == 0);
        char *text1 = print(cfg, &len1);
        if (config_load_buffer(again, "fuzz.ini", text1, len1, err, sizeof err) < 0) {
            fprintf(stderr, "fuzz_config: the printed config does not load: %s\n%s", err,
                    text1);
            abort();
        }
        char *text2 = print(again, &len2);
        CHECK(len1 == len2 && memcmp(text1, text2, len1) == 0);
        free(text1);
        free(text2);
    }
    free(cfg);
    free(again);
    return 0;
}
