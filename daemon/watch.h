/* watch.h - the control socket's `watch`: a reply that goes on until the client leaves,
 * one line rate_hz times a second (docs/socket.md, "watch"):
 *
 *   {"v":1,"ok":true,"cmd":"watch","rate_hz":10}              the head, at once
 *   {"watch":1,"t":12.34,"wall":"...","state":"set_running",...,"samples":[[t,force,speed,
 *    speed_cmd],...],"events":[{rep-log event},...],"lost":0}   then a line per period
 *
 * Each line carries the status at that moment, every control tick since the line before
 * (daemon/live.h) and every event, each exactly as the rep log writes it. A line comes at
 * least once a period even when nothing happened, so a watcher knows eccd is there.
 *
 * watch_begin returns the head (malloc'd) and fills *out; ctlsock asks the stream for the
 * next line as the client takes the last one, and is told "not yet" (EAGAIN) between lines.
 * NULL with errno when out of memory.
 */
#ifndef ECC_WATCH_H
#define ECC_WATCH_H

#include <stdbool.h>

#include "controller/ctl.h"
#include "daemon/ctlsock.h"
#include "daemon/live.h"
#include "proto/request.h"

/* The status a line shows: false when there is none yet. */
typedef bool (*watch_status_fn)(void *arg, struct ctl_status *st);

char *watch_begin(struct live *live, watch_status_fn status, void *status_arg,
                  const struct req *r, struct ctlsock_stream *out);

#endif
