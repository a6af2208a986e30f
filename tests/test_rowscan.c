/* test_rowscan.c - eccctl's splitter of streamed replies (client/rowscan.h): whatever the
 * sizes the bytes arrive in, the same head, elements and tail come out; strings holding
 * brackets, commas, escaped quotes and the key itself do not fool it; a plain reply is a
 * line; a line break inside an element is an error.
 */
#include <stdio.h>
#include <string.h>

#include "client/rowscan.h"
#include "tests/test.h"

#define OUT_MAX 4096

/* Feed text to a scanner `step` bytes at a time (as recv would hand them over), consuming
 * each part as eccctl does, and write what came out as "H<head>|E<element>|...|T<tail>"
 * (or "L<line>", "X" for an error). */
static void split(const char *text, size_t step, char *out)
{
    struct rowscan rs;
    char buf[OUT_MAX];
    size_t len = 0, fed = 0, total = strlen(text), start, end;

    rowscan_init(&rs, "rows");
    out[0] = '\0';
    for (;;) {
        enum rowscan_part p = rowscan_next(&rs, buf, len, &start, &end);
        size_t drop = end;

        if (p == ROWSCAN_MORE) {
            size_t n = total - fed < step ? total - fed : step;
            if (n == 0) {
                strcat(out, "|more at end");
                return;
            }
            memcpy(buf + len, text + fed, n);
            len += n;
            fed += n;
            continue;
        }
        switch (p) {
        case ROWSCAN_LINE: sprintf(out + strlen(out), "L%.*s", (int)end, buf); return;
        case ROWSCAN_ERROR: strcat(out, "X"); return;
        case ROWSCAN_HEAD: sprintf(out + strlen(out), "H%.*s|", (int)start, buf); break;
        case ROWSCAN_ELEMENT:
            sprintf(out + strlen(out), "E%.*s|", (int)(end - start), buf + start);
            break;
        case ROWSCAN_END: strcat(out, "]|"); break;
        case ROWSCAN_TAIL: sprintf(out + strlen(out), "T%.*s", (int)end, buf); return;
        default: break;
        }
        memmove(buf, buf + drop, len - drop);
        len -= drop;
    }
}

/* Every step size from 1 byte to the whole text gives want. */
static void check_split(const char *text, const char *want)
{
    char got[OUT_MAX];

    for (size_t step = 1; step <= strlen(text); step++) {
        split(text, step, got);
        if (strcmp(got, want) != 0) {
            printf("  step %zu: got  %s\n            want %s\n", step, got, want);
            CHECK(!"the same parts at every step size");
            return;
        }
    }
    CHECK(1);
}

TEST(an_export_splits_the_same_at_every_step)
{
    check_split("{\"v\":1,\"ok\":true,\"cmd\":\"export\",\"columns\":[\"a\",\"b\"],"
                "\"rows\":[[\"x\",1],[\"y\",2.5,null]],\"count\":2,\"complete\":true}\n",
                "H{\"v\":1,\"ok\":true,\"cmd\":\"export\",\"columns\":[\"a\",\"b\"],|"
                "E[\"x\",1]|E[\"y\",2.5,null]|]|T,\"count\":2,\"complete\":true}");
}

TEST(strings_with_brackets_quotes_and_the_key_are_data)
{
    /* a tag and a patient name that hold "rows":[ , brackets, commas and \" */
    check_split("{\"v\":1,\"tag\":\"\\\"rows\\\":[ ]\",\"rows\":[[\"a ] , [ \\\" }\",{\"k\":[1]}],"
                "[\"\\\\\"]],\"count\":2,\"complete\":false}\n",
                "H{\"v\":1,\"tag\":\"\\\"rows\\\":[ ]\",|E[\"a ] , [ \\\" }\",{\"k\":[1]}]|"
                "E[\"\\\\\"]|]|T,\"count\":2,\"complete\":false}");
}

TEST(an_empty_array_and_a_plain_reply)
{
    check_split("{\"v\":1,\"rows\":[],\"count\":0,\"complete\":true}\n",
                "H{\"v\":1,|]|T,\"count\":0,\"complete\":true}");
    check_split("{\"v\":1,\"ok\":false,\"error\":\"busy\"}\n",
                "L{\"v\":1,\"ok\":false,\"error\":\"busy\"}");
    check_split("{\"rows\":[[1]]}\n", "H{|E[1]|]|T}");      /* an eccd that built it whole */
}

TEST(broken_replies_are_errors)
{
    char got[OUT_MAX];

    split("{\"rows\":[[1,\n2]]}\n", 64, got);              /* a line break in an element */
    CHECK_STR_CONTAINS(got, "X");
    split("{\"rows\":[7]}\n", 64, got);                    /* a bare number: not an element */
    CHECK_STR_CONTAINS(got, "X");
    split("{\"rows\":[[1]", 64, got);                       /* cut short: wants more */
    CHECK_STR_CONTAINS(got, "more at end");
}

TESTS(T(an_export_splits_the_same_at_every_step),
      T(strings_with_brackets_quotes_and_the_key_are_data), T(an_empty_array_and_a_plain_reply),
      T(broken_replies_are_errors));
TEST_MAIN("test_rowscan")
