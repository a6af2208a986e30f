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

/* Whether a connection is open right now. */
bool modbus_link_connected(const struct modbus_link *link);

/* Close the connection (if open) and free the link. NULL is a no-op. */
void modbus_link_close(struct modbus_link *link);

#endif
