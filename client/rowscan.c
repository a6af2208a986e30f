/* rowscan.c - split a streamed reply line as it arrives (see rowscan.h). */
#include "client/rowscan.h"

#include <stdio.h>
#include <string.h>

enum { IN_HEAD = 0, IN_ELEMENTS, IN_TAIL };

void rowscan_init(struct rowscan *s, const char *key)
{
    memset(s, 0, sizeof *s);
    snprintf(s->key, sizeof s->key, "\"%s\":[", key);
    s->keylen = strlen(s->key);
}

/* The head: the key, or a newline before it (a plain line). */
static enum rowscan_part scan_head(struct rowscan *s, const char *buf, size_t len,
                                   size_t *start, size_t *end)
{
    size_t from = s->scanned >= s->keylen ? s->scanned - s->keylen + 1 : 0;

    for (size_t i = from; i < len; i++) {
        if (buf[i] == '\n') {
            *end = i;
            s->scanned = 0;
            return ROWSCAN_LINE;
        }
        if (i + s->keylen <= len && memcmp(buf + i, s->key, s->keylen) == 0) {
            *start = i;
            *end = i + s->keylen;
            s->scanned = 0;
            s->state = IN_ELEMENTS;
            return ROWSCAN_HEAD;
        }
    }
    s->scanned = len;
    return ROWSCAN_MORE;
}

/* Between elements: a comma or white space is skipped; ']' ends the array; '[' or '{'
 * begins an element. Returns the offset where the element begins, or how it ended. */
static enum rowscan_part between(struct rowscan *s, const char *buf, size_t len, size_t *at)
{
    size_t i = 0;

    while (i < len && (buf[i] == ',' || buf[i] == ' '))
        i++;
    *at = i;
    if (i == len)
        return ROWSCAN_MORE;
    if (buf[i] == ']') {
        s->state = IN_TAIL;
        return ROWSCAN_END;
    }
    return buf[i] == '[' || buf[i] == '{' ? ROWSCAN_ELEMENT : ROWSCAN_ERROR;
}

static enum rowscan_part scan_element(struct rowscan *s, const char *buf, size_t len,
                                      size_t *start, size_t *end)
{
    size_t first;
    enum rowscan_part p = between(s, buf, len, &first);

    if (p == ROWSCAN_END) {
        *end = first + 1;
        s->scanned = 0;
    }
    if (p != ROWSCAN_ELEMENT)
        return p;
    if (s->scanned <= first) {          /* a new element */
        s->scanned = first;
        s->depth = 0;
        s->in_str = s->esc = false;
    }
    for (size_t i = s->scanned; i < len; i++) {
        char ch = buf[i];

        if (ch == '\n')
            return ROWSCAN_ERROR;
        if (s->in_str) {
            if (s->esc)
                s->esc = false;
            else if (ch == '\\')
                s->esc = true;
            else if (ch == '"')
                s->in_str = false;
        } else if (ch == '"') {
            s->in_str = true;
        } else if (ch == '[' || ch == '{') {
            s->depth++;
        } else if ((ch == ']' || ch == '}') && --s->depth == 0) {
            *start = first;
            *end = i + 1;
            s->scanned = 0;
            return ROWSCAN_ELEMENT;
        }
    }
    s->scanned = len;
    return ROWSCAN_MORE;
}

static enum rowscan_part scan_tail(struct rowscan *s, const char *buf, size_t len, size_t *end)
{
    const char *nl = memchr(buf + s->scanned, '\n', len - s->scanned);

    if (!nl) {
        s->scanned = len;
        return ROWSCAN_MORE;
    }
    *end = (size_t)(nl - buf);
    s->scanned = 0;
    return ROWSCAN_TAIL;
}

enum rowscan_part rowscan_next(struct rowscan *s, const char *buf, size_t len, size_t *start,
                               size_t *end)
{
    *start = *end = 0;
    if (s->scanned > len)
        s->scanned = 0;
    switch (s->state) {
    case IN_HEAD: return scan_head(s, buf, len, start, end);
    case IN_ELEMENTS: return scan_element(s, buf, len, start, end);
    default: return scan_tail(s, buf, len, end);
    }
}
