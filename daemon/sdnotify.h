/* sdnotify.h - telling systemd how eccd is doing, through libsystemd's sd_notify.
 *
 * Under systemd with Type=notify, NOTIFY_SOCKET names the datagram socket to write to;
 * with WatchdogSec= set, WATCHDOG_USEC (and WATCHDOG_PID) say how often systemd wants
 * to hear WATCHDOG=1. Outside systemd (no NOTIFY_SOCKET) every call is a no-op returning
 * 0, so eccd runs the same from a shell.
 *
 * The watchdog is fed by a thread of this module, never by the control loop itself (no
 * system call on the loop's path): the loop calls sdnotify_heartbeat() once a tick,
 * which is one lock-free atomic update. The thread wakes every interval / 4 and sends
 * WATCHDOG=1 only if the heartbeat has advanced since its previous wake-up and the loop
 * said it was healthy. A loop that hangs, or stops calling, stops the feeding: systemd
 * then kills and restarts eccd (and the drive's own comm-loss watchdog has already
 * stopped the belt).
 * The thread runs with every signal blocked and at normal priority, whatever the loop's.
 *
 * STATUS= texts have their control characters turned into spaces (a newline would start
 * another assignment) and are cut at 256 bytes. The environment is read, never changed.
 *
 * Errors: -1 with errno. Ownership: sdnotify_open returns an object the caller frees with
 * sdnotify_close (which stops the thread); NULL is a no-op everywhere.
 */
#ifndef ECC_SDNOTIFY_H
#define ECC_SDNOTIFY_H

#include <stdbool.h>

struct sdnotify;

/* Read the environment (NOTIFY_SOCKET, WATCHDOG_USEC/WATCHDOG_PID via
 * sd_watchdog_enabled). No watchdog without NOTIFY_SOCKET, or when WATCHDOG_PID names
 * another process (the variables were inherited from a parent). NULL only with ENOMEM. */
struct sdnotify *sdnotify_open(void);
void sdnotify_close(struct sdnotify *n);

bool sdnotify_active(const struct sdnotify *n);         /* NOTIFY_SOCKET is set */
double sdnotify_watchdog_s(const struct sdnotify *n);   /* systemd's interval, 0: none */

/* READY=1 with a STATUS= line (none if status is NULL or empty); then start the watchdog
 * thread if systemd asked for one (once; -1 if it cannot be started). */
int sdnotify_ready(struct sdnotify *n, const char *status);
int sdnotify_status(struct sdnotify *n, const char *status);   /* STATUS=... */
/* STOPPING=1 + STATUS=. Also ends the watchdog thread: systemd disarms its watchdog once
 * the unit leaves the running state, and the loop no longer ticks. */
int sdnotify_stopping(struct sdnotify *n, const char *status);

/* The control loop, once a tick: "I am alive; healthy or not". Never blocks, makes no
 * system call (a lock-free atomic update); safe from any thread. */
void sdnotify_heartbeat(struct sdnotify *n, bool healthy);

/* WATCHDOG=1 messages sent so far (for tests and eccctl status). */
long sdnotify_watchdog_sent(const struct sdnotify *n);

/* For tests, the watchdog without its thread: sdnotify_open_manual reads the environment
 * as sdnotify_open does, but sdnotify_ready starts no thread; each sdnotify_feed_now is
 * then one of the thread's wake-ups, on the caller's thread: it sends WATCHDOG=1 when the
 * heartbeat advanced since the previous one and said healthy. Returns 1 (sent), 0 (not:
 * stalled, unhealthy, or the send failed), -1 with EINVAL (not a manual object with a
 * watchdog). So the rule is tested by handshake, with no clock in it. */
struct sdnotify *sdnotify_open_manual(void);
int sdnotify_feed_now(struct sdnotify *n);

#endif
