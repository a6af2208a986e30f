/* csvout.c - eccd's export stream as CSV (see csvout.h). */
#include "web/csvout.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/ctlfmt.h"

void csvout_init(struct csvout *o, const struct ctlconn *c)
{
    memset(o, 0, sizeof *o);
    o->c = *c;
    rowscan_init(&o->rs, "rows");
}

/* The head "{...," closed into an object: its columns as CSV's first row. */
static int head_row(struct csvout *o, FILE *f, size_t n)
{
    char *text = malloc(n + 2);
    json_t *head;
    int rc = -1;

    if (!text)
        return -1;
    memcpy(text, o->c.buf, n);
    if (n > 1 && text[n - 1] == ',')
        n--;
    text[n] = '}';
    head = json_loadb(text, n + 1, 0, NULL);
    free(text);
    if (json_is_true(json_object_get(head, "ok")))
        rc = ctlfmt_export_csv_head(f, json_object_get(head, "columns"));
    json_decref(head);
    return rc;
}

/* The tail ",...}": "" when the export is whole and holds the rows sent, else why not. */
static const char *tail_problem(struct csvout *o, size_t n, char *why, size_t wn)
{
    json_t *tail = NULL, *count, *complete;
    char *text = malloc(n + 1);

    if (text && n >= 2 && o->c.buf[0] == ',') {
        text[0] = '{';
        memcpy(text + 1, o->c.buf + 1, n - 1);
        tail = json_loadb(text, n, 0, NULL);
    }
    free(text);
    count = json_object_get(tail, "count");
    complete = json_object_get(tail, "complete");
    why[0] = '\0';
    if (!json_is_object(tail))
        snprintf(why, wn, "the end of eccd's reply is not JSON");
    else if (json_is_false(complete))
        snprintf(why, wn, "eccd could not read the history to its end (%s)",
                 json_string_value(json_object_get(tail, "message"))
                     ? json_string_value(json_object_get(tail, "message")) : "no reason");
    else if (json_is_integer(count) && json_integer_value(count) != o->rows)
        snprintf(why, wn, "eccd counted %lld rows, %ld came",
                 (long long)json_integer_value(count), o->rows);
    json_decref(tail);
    return why;
}

/* One step of the reply into f: 0 to go on, 1 at the end. */
static int step(struct csvout *o, FILE *f)
{
    size_t start, end;
    char why[256];
    int rc;
    json_t *row;
    enum rowscan_part p = rowscan_next(&o->rs, o->c.buf, o->c.len, &start, &end);

    switch (p) {
    case ROWSCAN_MORE:
        if ((rc = ctlconn_fill(&o->c)) == 0)
            return 0;
        fprintf(f, "# export cut short: %s\n",
                rc > 0 ? "eccd closed the connection" : strerror(errno));
        return 1;
    case ROWSCAN_HEAD:
        if (head_row(o, f, start) != 0) {
            fprintf(f, "# export cut short: eccd's reply head is not an export\n");
            return 1;
        }
        break;
    case ROWSCAN_ELEMENT:
        row = json_loadb(o->c.buf + start, end - start, 0, NULL);
        rc = ctlfmt_export_csv_row(f, row);
        json_decref(row);
        if (rc != 0) {
            fprintf(f, "# export cut short: a row eccweb cannot read\n");
            return 1;
        }
        o->rows++;
        break;
    case ROWSCAN_TAIL:
        if (*tail_problem(o, end, why, sizeof why))
            fprintf(f, "# export cut short: %s\n", why);
        return 1;
    case ROWSCAN_LINE:
        fprintf(f, "# eccd refused the export\n");
        return 1;
    case ROWSCAN_ERROR:
        fprintf(f, "# export cut short: eccd's reply cannot be split\n");
        return 1;
    default:
        break;
    }
    ctlconn_drop(&o->c, end);
    return 0;
}

/* Make at least want bytes of CSV (or up to the end) into o->pend. */
static void produce(struct csvout *o, size_t want)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (!f) {
        o->done = true;
        return;
    }
    while (!o->done) {
        if (step(o, f) != 0)
            o->done = true;
        if (fflush(f) != 0 || len >= want)
            break;
    }
    fclose(f);
    free(o->pend);
    o->pend = text;
    o->pend_len = len;
    o->pend_off = 0;
}

ssize_t csvout_read(struct csvout *o, char *buf, size_t max)
{
    size_t k;

    if (o->pend_off == o->pend_len && !o->done)
        produce(o, max);
    k = o->pend_len - o->pend_off;
    if (k > max)
        k = max;
    if (k)
        memcpy(buf, o->pend + o->pend_off, k);
    o->pend_off += k;
    return (ssize_t)k;
}

void csvout_fini(struct csvout *o)
{
    ctlconn_close(&o->c);
    free(o->pend);
    o->pend = NULL;
}
