/* modbus_link.c - one Modbus master connection: pacing, timeouts, retries, failure kinds
 * (see modbus_link.h). */
#include "hal/modbus_link.h"

#include "hal/hal.h"

#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct modbus_link {
    struct modbus_link_params p;
    modbus_t *ctx;
    bool connected;
    bool lost;                   /* a connection was open and broke: the next one is a reconnect */
    struct timespec last_end;    /* CLOCK_MONOTONIC, end of the last attempt */
    bool single_try;             /* modbus_link_single_try */
    long replies;                /* attempts a device answered (good or exception) */
};

enum failure_kind { FAIL_LINK, FAIL_TIMEOUT, FAIL_BAD_FRAME, FAIL_EXCEPTION };

/* One request as the transaction helper sees it. */
struct request {
    int fc;
    int addr, n;
    uint16_t *dst;               /* reads */
    const uint16_t *src;         /* writes */
};

static int exception_code(int err);

/* ---- opening ----------------------------------------------------------------------- */

static int check_params(const struct modbus_link_params *p, char *err, size_t errlen)
{
    if (p->kind == MODBUS_LINK_RTU && p->device[0] == '\0') {
        snprintf(err, errlen, "modbus link: no serial device");
        return -1;
    }
    if (p->kind == MODBUS_LINK_TCP && (p->host[0] == '\0' || p->port < 1 || p->port > 65535)) {
        snprintf(err, errlen, "modbus link: bad TCP endpoint '%s:%d'", p->host, p->port);
        return -1;
    }
    if (p->timeout_ms < 1 || p->min_gap_ms < 0 || p->retries < 0) {
        snprintf(err, errlen, "modbus link: bad timing (timeout %d ms, gap %d ms, retries %d)",
                 p->timeout_ms, p->min_gap_ms, p->retries);
        return -1;
    }
    return 0;
}

static modbus_t *new_context(const struct modbus_link_params *p)
{
    if (p->kind == MODBUS_LINK_RTU)
        return modbus_new_rtu(p->device, p->baud, p->parity, p->data_bits, p->stop_bits);

    char service[16];
    snprintf(service, sizeof service, "%d", p->port);
    /* The _pi variant resolves host names as well as numeric addresses. */
    return modbus_new_tcp_pi(p->host, service);
}

struct modbus_link *modbus_link_open(const struct modbus_link_params *params, char *err,
                                     size_t errlen)
{
    if (check_params(params, err, errlen) < 0)
        return NULL;

    struct modbus_link *link = calloc(1, sizeof *link);
    if (!link) {
        snprintf(err, errlen, "modbus link: out of memory");
        return NULL;
    }
    link->p = *params;
    link->ctx = new_context(params);
    if (!link->ctx) {
        snprintf(err, errlen, "modbus link: %s", modbus_strerror(errno));
        free(link);
        return NULL;
    }
    uint32_t sec = (uint32_t)(params->timeout_ms / 1000);
    uint32_t usec = (uint32_t)(params->timeout_ms % 1000) * 1000u;
    /* The byte timeout bounds the gaps inside one answer; the same figure as the response
     * timeout keeps one attempt within about twice timeout_ms. */
    modbus_set_response_timeout(link->ctx, sec, usec);
    modbus_set_byte_timeout(link->ctx, sec, usec);
    /* Recovery is ours (classify, close, reconnect): libmodbus must not sleep or reconnect
     * on its own inside a call. */
    modbus_set_error_recovery(link->ctx, MODBUS_ERROR_RECOVERY_NONE);
    clock_gettime(CLOCK_MONOTONIC, &link->last_end);
    return link;
}

/* ---- words for messages ------------------------------------------------------------ */

void modbus_link_params_describe(const struct modbus_link_params *p, char *buf, size_t len)
{
    if (p->kind == MODBUS_LINK_TCP)
        snprintf(buf, len, "tcp %s:%d", p->host, p->port);
    else
        snprintf(buf, len, "rtu %s %d %d%c%d", p->device, p->baud, p->data_bits, p->parity,
                 p->stop_bits);
}

/* The Modbus application protocol's names for its exception codes. */
static const char *exception_name(int code)
{
    static const char *const names[] = {
        [1] = "illegal function", [2] = "illegal data address", [3] = "illegal data value",
        [4] = "server device failure", [5] = "acknowledge", [6] = "server device busy",
        [8] = "memory parity error", [10] = "gateway path unavailable",
        [11] = "gateway target device failed to respond"};

    if (code > 0 && code < (int)(sizeof names / sizeof names[0]) && names[code])
        return names[code];
    return "unknown exception";
}

void modbus_link_outcome(int err, char *buf, size_t len)
{
    int code = exception_code(err);

    if (code)
        snprintf(buf, len, "exception %02X (%s)", (unsigned)code, exception_name(code));
    else if (err == ETIMEDOUT)
        snprintf(buf, len, "no reply (timeout)");
    else if (err == EMBBADCRC)
        snprintf(buf, len, "bad CRC");
    else if (err == EMBBADSLAVE)
        snprintf(buf, len, "a reply from another unit id");
    else if (err == EMBBADDATA || err == EMBMDATA || err == EMBBADEXC || err == EMBUNKEXC)
        snprintf(buf, len, "a malformed reply (%s)", modbus_strerror(err));
    else if (err == ECONNREFUSED)
        snprintf(buf, len, "connection refused");
    else if (err == EHOSTUNREACH || err == ENETUNREACH)
        snprintf(buf, len, "host unreachable");
    else
        snprintf(buf, len, "%s", modbus_strerror(err));
}

void modbus_counters_describe(const struct modbus_counters *c, char *buf, size_t len)
{
    const struct modbus_request_note *f = &c->last_failed;
    char outcome[96];

    if (f->tries == 0) {
        snprintf(buf, len, "%s", "");
        return;
    }
    modbus_link_outcome(f->err, outcome, sizeof outcome);
    snprintf(buf, len, "%s fc %d at %d (%d register%s): %s after %d %s",
             f->fc <= 4 ? "read" : "write", f->fc, f->addr, f->n, f->n == 1 ? "" : "s", outcome,
             f->tries, f->tries == 1 ? "try" : "tries");
}

void modbus_counters_to_stats(const struct modbus_counters *c, const char *where,
                              struct hal_link_stats *st)
{
    snprintf(st->where, sizeof st->where, "%s", where);
    st->tx_ok = c->tx_ok;
    st->tx_failed = c->tx_failed;
    st->link_errors = c->link_errors;
    st->timeouts = c->timeouts;
    st->bad_frames = c->bad_frames;
    st->exceptions = c->exceptions;
    st->reconnects = c->reconnects;
    for (int i = 0; i < HAL_EXC_CODES && i < MODBUS_EXC_CODES; i++)
        st->exc_by_code[i] = c->exc_by_code[i];
    st->rtt_ms = c->rtt_n > 0 ? c->rtt_sum_ms / (double)c->rtt_n : NAN;
    st->rtt_max_ms = c->rtt_n > 0 ? c->rtt_max_ms : NAN;
    st->answering = c->tx_ok > 0 && c->consecutive_failures == 0;
    st->last_raw = NAN;
    modbus_counters_describe(c, st->last_error, sizeof st->last_error);
}

long modbus_link_replies(const struct modbus_link *link)
{
    return link->replies;
}

void modbus_link_single_try(struct modbus_link *link, bool on)
{
    link->single_try = on;
}

static void disconnect(struct modbus_link *link)
{
    if (link->connected) {
        modbus_close(link->ctx);
        link->connected = false;
        link->lost = true;
    }
}

void modbus_link_close(struct modbus_link *link)
{
    if (!link)
        return;
    disconnect(link);
    modbus_free(link->ctx);
    free(link);
}

/* ---- pacing ------------------------------------------------------------------------ */

/* Wait for the absolute deadline last_end + min_gap: the quiet time the device needs. */
static void wait_gap(const struct modbus_link *link)
{
    if (link->p.min_gap_ms <= 0)
        return;
    struct timespec due = link->last_end;
    due.tv_nsec += (long)link->p.min_gap_ms * 1000000L;
    due.tv_sec += due.tv_nsec / 1000000000L;
    due.tv_nsec %= 1000000000L;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR)
        ;
}

static void mark_end(struct modbus_link *link)
{
    clock_gettime(CLOCK_MONOTONIC, &link->last_end);
}

/* ---- one attempt ------------------------------------------------------------------- */

static int ensure_connected(struct modbus_link *link, struct modbus_counters *c)
{
    if (link->connected)
        return 0;
    if (modbus_connect(link->ctx) < 0)
        return -1;
    link->connected = true;
    if (link->lost) {
        c->reconnects++;
        link->lost = false;
    }
    return 0;
}

static int issue(modbus_t *ctx, const struct request *rq)
{
    int rc;

    switch (rq->fc) {
    case 3: rc = modbus_read_registers(ctx, rq->addr, rq->n, rq->dst); break;
    case 4: rc = modbus_read_input_registers(ctx, rq->addr, rq->n, rq->dst); break;
    case 6: rc = modbus_write_register(ctx, rq->addr, rq->src[0]); break;
    case 16: rc = modbus_write_registers(ctx, rq->addr, rq->n, rq->src); break;
    default: errno = EINVAL; return -1;
    }
    if (rc < 0)
        return -1;
    if (rc != rq->n) {           /* libmodbus checks the count; belt and braces */
        errno = EMBBADDATA;
        return -1;
    }
    return 0;
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) * 1e-6;
}

/* A good attempt's round trip, request out to answer in. */
static void count_round_trip(struct modbus_counters *c, double ms)
{
    c->rtt_sum_ms += ms;
    c->rtt_n++;
    if (ms > c->rtt_max_ms)
        c->rtt_max_ms = ms;
}

static int attempt(struct modbus_link *link, int unit, const struct request *rq,
                   struct modbus_counters *c)
{
    struct timespec sent;

    if (ensure_connected(link, c) < 0)
        return -1;
    wait_gap(link);
    modbus_set_slave(link->ctx, unit);
    clock_gettime(CLOCK_MONOTONIC, &sent);
    int rc = issue(link->ctx, rq);
    int saved = errno;
    mark_end(link);
    if (rc == 0)
        count_round_trip(c, ms_between(&sent, &link->last_end));
    if (rc == 0 || modbus_link_is_exception(saved))
        link->replies++;
    errno = saved;
    return rc;
}

/* ---- classification and counting --------------------------------------------------- */

bool modbus_link_is_exception(int err)
{
    return err >= EMBXILFUN && err <= EMBXGTAR;
}

/* The exception code (1..255) an errno carries, 0 if it is not an exception reply. */
static int exception_code(int err)
{
    return modbus_link_is_exception(err) ? err - MODBUS_ENOBASE : 0;
}

static enum failure_kind classify(int err)
{
    if (modbus_link_is_exception(err))
        return FAIL_EXCEPTION;
    if (err == ETIMEDOUT)
        return FAIL_TIMEOUT;
    if (err == EMBBADCRC || err == EMBBADDATA || err == EMBBADEXC || err == EMBUNKEXC ||
        err == EMBMDATA || err == EMBBADSLAVE)
        return FAIL_BAD_FRAME;
    return FAIL_LINK;            /* ECONNRESET, EPIPE, EBADF, ECONNREFUSED, EIO, ... */
}

static void count_attempt_failure(struct modbus_counters *c, enum failure_kind kind, int err)
{
    int code = exception_code(err);

    c->last_errno = err;
    switch (kind) {
    case FAIL_LINK: c->link_errors++; break;
    case FAIL_TIMEOUT: c->timeouts++; break;
    case FAIL_BAD_FRAME: c->bad_frames++; break;
    case FAIL_EXCEPTION:
        c->exceptions++;
        c->exc_by_code[code > 0 && code < MODBUS_EXC_CODES ? code : 0]++;
        break;
    }
}

/* What the link does after a failed attempt. */
static void recover(struct modbus_link *link, enum failure_kind kind)
{
    switch (kind) {
    case FAIL_LINK:
        disconnect(link);        /* reconnect on the next attempt */
        break;
    case FAIL_TIMEOUT:
        /* On TCP a late answer may still be on its way, and the next request (maybe for
         * another unit behind the same gateway) would take it for its own: a fresh
         * connection cannot receive it. On RTU the bus goes quiet; drop what came. */
        if (link->p.kind == MODBUS_LINK_TCP || modbus_flush(link->ctx) < 0)
            disconnect(link);
        break;
    case FAIL_BAD_FRAME:
        /* A broken answer may still sit in the buffers: drop it so it is not taken for
         * the answer to the next request. */
        if (modbus_flush(link->ctx) < 0)
            disconnect(link);
        break;
    case FAIL_EXCEPTION:
        break;                   /* the device answered: nothing wrong with the link */
    }
}

static void count_transaction(struct modbus_counters *c, bool ok)
{
    if (ok) {
        c->tx_ok++;
        c->consecutive_failures = 0;
        if (c->consecutive_ok < 1000000000)
            c->consecutive_ok++;
        c->healthy = c->consecutive_ok >= c->healthy_after;
    } else {
        c->tx_failed++;
        c->consecutive_ok = 0;
        if (c->consecutive_failures < 1000000000)
            c->consecutive_failures++;
        c->healthy = false;
    }
}

/* The one place a transaction happens: attempts (paced), classify, recover, count. */
static int transact(struct modbus_link *link, int unit, const struct request *rq,
                    struct modbus_counters *c)
{
    int err = 0, i;

    int retries = link->single_try ? 0 : link->p.retries;

    for (i = 0; i <= retries; i++) {
        if (attempt(link, unit, rq, c) == 0) {
            count_transaction(c, true);
            return 0;
        }
        err = errno;
        enum failure_kind kind = classify(err);
        count_attempt_failure(c, kind, err);
        recover(link, kind);
        if (kind == FAIL_EXCEPTION)
            break;               /* the same request gets the same answer */
    }
    count_transaction(c, false);
    c->last_failed = (struct modbus_request_note){
        .unit = unit, .fc = rq->fc, .addr = rq->addr, .n = rq->n,
        .tries = i <= retries ? i + 1 : i, .err = err};
    errno = err;
    return -1;
}

static bool valid_unit(int unit)
{
    return unit >= 1 && unit <= 247;
}

int modbus_link_read(struct modbus_link *link, int unit, int fc, int addr, int n,
                     uint16_t *dst, struct modbus_counters *c)
{
    if (!valid_unit(unit) || (fc != 3 && fc != 4) || addr < 0 || n < 1 ||
        n > MODBUS_MAX_READ_REGISTERS || addr + n > 65536) {
        errno = EINVAL;
        return -1;
    }
    const struct request rq = {.fc = fc, .addr = addr, .n = n, .dst = dst};
    return transact(link, unit, &rq, c);
}

int modbus_link_write(struct modbus_link *link, int unit, int fc, int addr, int n,
                      const uint16_t *src, struct modbus_counters *c)
{
    if (!valid_unit(unit) || (fc != 6 && fc != 16) || addr < 0 || n < 1 ||
        (fc == 6 && n != 1) || n > MODBUS_MAX_WRITE_REGISTERS || addr + n > 65536) {
        errno = EINVAL;
        return -1;
    }
    const struct request rq = {.fc = fc, .addr = addr, .n = n, .src = src};
    return transact(link, unit, &rq, c);
}
