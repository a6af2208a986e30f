/* hy_link.h - one serial line to a Huanyang HY drive (hy_frame.h): pacing, timeouts,
 * retries and failure kinds, as modbus_link.h does for Modbus (libmodbus cannot frame the
 * HY's replies, so the port is driven here with termios and poll).
 *
 * Used by exactly one thread (the HY drive's I/O thread): no locking inside. The port is
 * opened by the first transaction, and opened again after a link error.
 *
 * One transaction: wait until min_gap_ms after the end of the last one (an absolute
 * deadline, CLOCK_MONOTONIC), drop whatever input is pending (a late answer to an earlier
 * request), write the request, read until the frame's length is known and complete; the
 * first byte must come within timeout_ms, each next one within timeout_ms of the last.
 * Then check the reply against the request (hy_check_reply).
 *
 * Failures, each failed attempt counted once under its kind (struct modbus_counters, the
 * same counters a Modbus device keeps):
 *   link       the port cannot be opened or configured, or a read/write fails (the USB
 *              adapter was pulled): closed, opened again on the next attempt;
 *   timeout    no (complete) answer in time: errno ETIMEDOUT;
 *   bad frame  an answer that is not a valid reply to the request (CRC, length, another
 *              address, function or index): errno EBADMSG;
 *   exception  the drive refused the request (function | 0x80): errno EPROTO, not retried.
 * Link errors, timeouts and bad frames are retried `retries` times; a transaction counts
 * as failed (tx_failed, consecutive_failures) only when its last attempt fails.
 *
 * Errors: -1 with errno.
 */
#ifndef ECC_HY_LINK_H
#define ECC_HY_LINK_H

#include <stdbool.h>
#include <stddef.h>

#include "hal/hy_frame.h"
#include "hal/modbus_link.h"

struct hy_link_params {
    char device[256];            /* serial device */
    int baud;                    /* one termios has: 1200 .. 921600 */
    char parity;                 /* 'N', 'E' or 'O' */
    int data_bits, stop_bits;    /* 7 or 8; 1 or 2 */
    int min_gap_ms;              /* ms, quiet time between transactions */
    int timeout_ms;              /* ms, wait for the first byte of an answer, and between bytes */
    int retries;                 /* extra attempts after a failed one */
};

struct hy_link;

/* Check the parameters and make the link (the port is opened by the first transaction).
 * NULL with a message in err for parameters the port cannot take. Free with
 * hy_link_close. */
struct hy_link *hy_link_open(const struct hy_link_params *p, char *err, size_t errlen);

/* One request and its reply. Returns 0 with *rp filled, or -1 with errno after the last
 * failed attempt (ETIMEDOUT, EBADMSG, EPROTO for a refusal with rp->refusal, or the
 * port's own errno). */
int hy_link_transact(struct hy_link *l, const struct hy_request *rq, struct hy_reply *rp,
                     struct modbus_counters *c);

/* Whether errno from a failed transaction means the drive refused the request (it is
 * there and answering). */
bool hy_link_is_refusal(int err);

/* What went wrong last time, in words ("bad CRC", "timeout", "EIO: ..."): for the logs. */
const char *hy_link_last_error(const struct hy_link *l);

/* Close the port (if open) and free the link. NULL is a no-op. */
void hy_link_close(struct hy_link *l);

#endif
