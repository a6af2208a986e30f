/* service.h - what joins the control loop to the history (daemon/store.h) and to eccctl's
 * socket (daemon/ctlsock.h, proto/request.h) without ever making the loop wait.
 *
 * Two threads meet here:
 *  - the loop thread calls service_on_service once a tick (struct loop_opts) and
 *    service_on_event for every controller event. It takes a pending eccctl command from
 *    the mailbox, applies it to the controller and posts the result, publishes a status
 *    snapshot, and hands events to the store's queue. Every lock it touches is taken
 *    with trylock: when the socket thread holds one, the loop skips that duty this tick.
 *  - the socket thread calls service_handle for each request line: status reads the
 *    snapshot; commands go through the mailbox and wait (up to SERVICE_WAIT_S) for the
 *    loop's answer; patients, pain, history and export go to the store directly.
 * A command the loop has not taken when the wait ends is withdrawn, so a late "start"
 * can never run after its client was told "busy".
 *
 * This is eccd's glue (like eccd.c), not pure logic: it calls the store and the HAL.
 * Ownership: service_open copies what it needs from params, except store and the
 * config, which must outlive it; service_close frees it (NULL: no-op).
 */
#ifndef ECC_SERVICE_H
#define ECC_SERVICE_H

#include <stddef.h>

#include "config/config.h"
#include "controller/ctl.h"
#include "daemon/loop.h"
#include "daemon/ctlsock.h"
#include "hal/hal.h"
#include "daemon/store.h"

#define SERVICE_WAIT_S 2.0      /* how long a command waits for the loop */

struct service;

struct service_params {
    const struct ecc_config *cfg;
    struct store *store;        /* NULL: no history (history, export, patients refused) */
    double started_wall;        /* UTC s at start-up, for uptime */
};

struct service *service_open(const struct service_params *p);
void service_close(struct service *s);

/* Before the loop runs: apply the store's selected patient (band, caps, the sessions the
 * day's rule counts) and, when that patient has a session begun today that never
 * finished, make the controller carry on from where it stopped. wall / utc_offset_s:
 * now. Returns 0, or -1 when the store failed (logged). */
int service_restore(struct service *s, struct ctl *c, double wall, int utc_offset_s);

/* The loop's hooks (arg: the service). */
void service_on_service(void *arg, struct ctl *c, struct hal *hal, const struct loop_stats *st);
void service_on_event(void *arg, const struct ctl_event *ev);

/* ctlsock's handler (arg: the service): one request line in, one reply line out (history
 * and export stream theirs through *stream: daemon/histstream.h). */
char *service_handle(void *arg, const char *line, size_t len, const struct ctlsock_peer *peer,
                     struct ctlsock_stream *stream);

#endif
