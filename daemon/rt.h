/* rt.h - real-time set-up and dropping root: the process-wide OS settings eccd asks for.
 *
 * Order in eccd (see eccd.c): open the hardware (as root if started as root) ->
 * rt_prepare (raise RLIMIT_RTPRIO / RLIMIT_MEMLOCK while still allowed, so the limits
 * outlive the drop) -> rt_drop_privileges ([daemon] user) -> history, socket (their
 * threads keep normal scheduling) -> rt_apply on the loop thread (SCHED_FIFO for that
 * thread only, mlockall for the process) -> the loop.
 * Under systemd (User=eccd) the unit's LimitRTPRIO= and LimitMEMLOCK= play rt_prepare's
 * part. Not getting a real-time setting is a warning, never a reason to stop: the
 * messages say what to change.
 *
 * Errors: -1 with errno and a message in msg.
 */
#ifndef ECC_RT_H
#define ECC_RT_H

#include <stdbool.h>
#include <stddef.h>

struct rt_params {
    int priority;               /* SCHED_FIFO priority 1..99, 0: none */
    bool lock_memory;           /* mlockall(MCL_CURRENT | MCL_FUTURE) */
};

/* Raise the resource limits the settings need, when the process may (root or
 * CAP_SYS_RESOURCE). 0, or -1 with the reason in msg (a warning: rt_apply may still
 * succeed within the limits the process already has). */
int rt_prepare(const struct rt_params *p, char *msg, size_t len);

/* Become user (name or number) with its primary group and supplementary groups, for
 * good (a later setuid(0) must fail). Only when running as root; a no-op for "" or when
 * not root (0 then). -1 with msg: unknown user, or a step failed (eccd must stop). */
int rt_drop_privileges(const char *user, char *msg, size_t len);

/* On the calling thread: lock memory, then SCHED_FIFO at p->priority. 0 when everything
 * asked for was applied (or nothing was asked), -1 with what was not in msg. */
int rt_apply(const struct rt_params *p, char *msg, size_t len);

#endif
