/* fuzz_request.c - libFuzzer target for the control socket's requests (tests/fuzz/run.sh).
 *
 * Any bytes go to req_parse. Then, as oracles: a parsed request must satisfy every range
 * the protocol promises; the error reply built from the result must fit REQ_LINE_MAX,
 * parse back as JSON with exactly the fields given (message, tag, cmd), and be cut like
 * snprintf in a short buffer. The input itself is also used as an error message.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_request: %s:%d: %s\n", __FILE__, __LINE__, #cond);    \
            abort();                                                                    \
        }                                                                               \
    } while (0)

static int positive_or_nan(double x)
{
    return isnan(x) || (isfinite(x) && x > 0.0);
}

/* What a request that parsed may hold. */
static void check_request(const struct req *r)
{
    CHECK(r->v == REQ_VERSION);
    CHECK(req_cmd_name(r->cmd) != NULL);
    CHECK(memchr(r->tag, '\0', sizeof r->tag) != NULL);
    CHECK(memchr(r->name, '\0', sizeof r->name) != NULL);
    switch (r->cmd) {
    case REQ_CALIBRATE:
        CHECK(r->mass_kg > 0.0 && r->mass_kg <= REQ_MASS_MAX_KG);
        break;
    case REQ_PAIN:
        CHECK(r->score >= 0 && r->score <= 10);
        break;
    case REQ_PATIENT_ADD:
        CHECK(strlen(r->name) >= 1);
        for (const unsigned char *p = (const unsigned char *)r->name; *p; p++)
            CHECK(*p >= 0x20 && *p != 0x7F);
        CHECK(positive_or_nan(r->force_low) && positive_or_nan(r->force_high));
        CHECK(positive_or_nan(r->speed_max) && positive_or_nan(r->force_abort));
        break;
    case REQ_PATIENT_SELECT:
        CHECK(r->patient >= 1);
        break;
    case REQ_HISTORY:
        CHECK(r->days >= 1 && r->days <= REQ_DAYS_MAX);
        break;
    case REQ_EXPORT:
        CHECK(r->days >= 0 && r->days <= REQ_DAYS_MAX);
        break;
    default:
        break;
    }
}

/* s is a string JSON can carry as it is (valid UTF-8): jansson says so. */
static int json_safe(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

static void check_field(json_t *o, const char *key, const char *want)
{
    json_t *j = json_object_get(o, key);
    if (!want) {
        CHECK(j == NULL);
        return;
    }
    CHECK(json_is_string(j));
    if (json_safe(want))
        CHECK(strcmp(json_string_value(j), want) == 0);
}

/* The reply parses back with the fields it was given. */
static void check_reply(const struct req *r, const char *code, const char *msg)
{
    char buf[REQ_LINE_MAX], small[48];
    int n = req_reply_error(buf, sizeof buf, r, code, msg);
    json_error_t e;
    json_t *o;

    CHECK(n > 0 && n < (int)sizeof buf && (size_t)n == strlen(buf));
    CHECK(strchr(buf, '\n') == NULL);
    o = json_loads(buf, JSON_REJECT_DUPLICATES, &e);
    if (!o)
        fprintf(stderr, "fuzz_request: reply is not JSON (%s): %s\n", e.text, buf);
    CHECK(json_is_object(o));
    CHECK(json_integer_value(json_object_get(o, "v")) == REQ_VERSION);
    CHECK(json_is_false(json_object_get(o, "ok")));
    check_field(o, "error", code);
    check_field(o, "message", msg);
    check_field(o, "cmd", r ? req_cmd_name(r->cmd) : NULL);
    check_field(o, "tag", r && r->tag[0] ? r->tag : NULL);
    json_decref(o);

    /* cut short: the same prefix, NUL-terminated, the same length returned */
    size_t cut = (size_t)n % sizeof small + 1;
    CHECK(req_reply_error(small, cut, r, code, msg) == n);
    CHECK(strlen(small) == cut - 1 && memcmp(small, buf, cut - 1) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct req r;
    const char *code = NULL;
    char msg[256];
    int rc = req_parse((const char *)data, size, &r, &code, msg, sizeof msg);

    if (rc == 0) {
        CHECK(code == NULL && msg[0] == '\0');
        check_request(&r);
        check_reply(&r, "refused_state", "not now");
    } else {
        CHECK(rc == -1 && code != NULL && msg[0] != '\0' && strlen(msg) < sizeof msg);
        CHECK(!strcmp(code, "bad_request") || !strcmp(code, "too_long") ||
              !strcmp(code, "version") || !strcmp(code, "unknown_command"));
        CHECK(!strcmp(code, "too_long") == (size >= REQ_LINE_MAX));
        check_reply(&r, code, msg);
    }

    /* the input as a message (up to its first NUL; the reply promises to fit under 600) */
    if (size < 600) {
        char *m = malloc(size + 1);
        memcpy(m, data, size);
        m[size] = '\0';
        check_reply(NULL, "internal", m);
        free(m);
    }
    return 0;
}
