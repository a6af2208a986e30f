/* modbus_link.h - one Modbus master connection (RTU serial line or TCP endpoint).
 *
 * A link paces, times out, retries and classifies every transaction; it does not know what
 * the registers mean. It is used by exactly one thread (the bus thread that owns it, see
 * modbus_bus.h): no locking inside.
 *
 * Pacing: a request is never sent sooner than min_gap_ms after the end of the previous
 * transaction on this link (an absolute deadline on CLOCK_MONOTONIC, waited once before
 * each request; drives need that quiet time on RS-485).
 *
 * Failures, by kind (each failed attempt is counted once under its kind):
 *   link       the connection itself: connect refused, ECONNRESET, EPIPE, EBADF, a serial
 *              I/O error. The link closes and reconnects on the next attempt.
 *   timeout    no (complete) answer within timeout_ms.
 *   bad frame  an answer that is not valid: bad CRC, wrong length / transaction id / unit.
 *   exception  the device answered with a Modbus exception (EMBX*): the request was wrong
 *              for it, the link is fine, so it is not retried.
 * A transaction is retried up to `retries` times after a link error, timeout or bad frame;
 * it counts as failed (tx_failed, consecutive_failures) only when the last attempt fails.
 *
 * Counters are kept per caller (struct modbus_counters), so devices sharing one link (drive
 * and load cell on one RS-485 bus) each see their own health.
 *
 * Errors: -1 with errno (the libmodbus errno of the last attempt: ETIMEDOUT, EMBBADCRC, ...).
 */
#ifndef ECC_MODBUS_LINK_H
#define ECC_MODBUS_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum modbus_link_kind { MODBUS_LINK_RTU = 0, MODBUS_LINK_TCP };

struct modbus_link_params {
    enum modbus_link_kind kind;
    char device[256];            /* RTU: serial device */
    int baud;                    /* RTU: baud */
    char parity;                 /* RTU: 'N', 'E' or 'O' */
    int data_bits, stop_bits;    /* RTU */
    char host[128];              /* TCP */
    int port;                    /* TCP */
    int min_gap_ms;              /* ms, quiet time between transactions */
    int timeout_ms;              /* ms, response timeout of one attempt */
    int retries;                 /* extra attempts after a failed one */
};

/* The Modbus exception codes counted one by one (01..0B); larger ones count under 0. */
#define MODBUS_EXC_CODES 12

/* One transaction as the link saw it: what was asked and how it ended. */
struct modbus_request_note {
    int unit, fc, addr, n;       /* unit id, function code, first wire address, registers */
    int tries;                   /* attempts made */
    int err;                     /* errno of the last attempt (0: it succeeded) */
};

/* One device's view of its transactions on a link. Zero it, set healthy_after, pass it to
 * every transaction of that device. */
struct modbus_counters {
    int healthy_after;           /* good transactions in a row that make the device healthy */
    long tx_ok, tx_failed;       /* transactions (after retries) */
    long link_errors, timeouts, bad_frames, exceptions;   /* failed attempts, by kind */
    long reconnects;             /* connections re-made after one was lost */
    int consecutive_ok;          /* good transactions in a row */
    int consecutive_failures;    /* failed transactions in a row */
    bool healthy;                /* consecutive_ok >= healthy_after (false after a failure) */
    int last_errno;              /* errno of the last failed attempt, 0 if none yet */
    long exc_by_code[MODBUS_EXC_CODES];  /* exception replies by code ([0]: other codes) */
    struct modbus_request_note last_failed;  /* the latest failed transaction (tries 0: none) */
    double rtt_sum_ms, rtt_max_ms;   /* round trips of the good transactions (attempt, ms) */
    long rtt_n;
};

struct modbus_link;

/* Create the link (no connection yet: the first transaction connects). Returns NULL with
 * a message in err on bad parameters or when libmodbus refuses them. Free with
 * modbus_link_close. */
struct modbus_link *modbus_link_open(const struct modbus_link_params *params, char *err,
                                     size_t errlen);

/* Read n (1..125) registers from addr into dst. fc: 3 (holding) or 4 (input).
 * Returns 0, or -1 with errno after the last failed attempt. */
int modbus_link_read(struct modbus_link *link, int unit, int fc, int addr, int n,
                     uint16_t *dst, struct modbus_counters *c);

/* Write n registers from src at addr. fc: 6 (single; n must be 1) or 16 (multiple, 1..123).
 * Returns 0, or -1 with errno. */
int modbus_link_write(struct modbus_link *link, int unit, int fc, int addr, int n,
                      const uint16_t *src, struct modbus_counters *c);

/* Whether errno from a failed read/write means a Modbus exception reply (the device is
 * there and answering), as opposed to a link error, timeout or bad frame. */
bool modbus_link_is_exception(int err);

/* "tcp HOST:PORT" or "rtu DEVICE BAUD 8N1": where a message says the link is. */
void modbus_link_params_describe(const struct modbus_link_params *p, char *buf, size_t len);

/* What an errno from a transaction means, in a technician's words: "no reply (timeout)",
 * "exception 02 (illegal data address)", "bad CRC", "connection refused", ... */
void modbus_link_outcome(int err, char *buf, size_t len);

/* The latest failed transaction: "read fc 3 at 0 (1 register): no reply (timeout) after
 * 3 tries". Empty when none has failed. */
void modbus_counters_describe(const struct modbus_counters *c, char *buf, size_t len);

/* A device's counters as struct hal_link_stats says them; where: "tcp HOST:PORT unit N". */
struct hal_link_stats;
void modbus_counters_to_stats(const struct modbus_counters *c, const char *where,
                              struct hal_link_stats *st);

/* While on, every transaction makes one attempt whatever `retries` says (a bus backing
 * off a silent device). */
void modbus_link_single_try(struct modbus_link *link, bool on);

/* Attempts answered by a device (a good reply or an exception) since the link opened. */
long modbus_link_replies(const struct modbus_link *link);

/* Close the connection (if open) and free the link. NULL is a no-op. */
void modbus_link_close(struct modbus_link *link);

#endif
