/* simsrv.h - eccsim's Modbus servers (libmodbus): TCP, and one RTU server per unit
 * behind the wire (simwire.h). Both parse a request, let the devices (simdev.h) answer
 * it, and send the answer with modbus_reply()/modbus_reply_exception(), applying the
 * fault's action: silent (no reply), late (the reply waits simdev.late_s), exception
 * (0x04), corrupt (TCP: the reply carries another transaction id; RTU: the wire breaks
 * the CRC).
 *
 * Every register and function is checked here and in the devices before libmodbus
 * builds a reply, so libmodbus's own mapping checks never answer (its mapping is only
 * the reply's buffer).
 */
#ifndef ECC_SIMSRV_H
#define ECC_SIMSRV_H

#include <modbus.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "sim/simdev.h"

#define SIMSRV_TCP_CLIENTS 8          /* masters served at once, each on a thread of its own */

/* Parse a request (header_len: 7 for TCP, 1 for RTU; len as modbus_receive returned it).
 * Returns 0, or the Modbus exception code it deserves (unknown function: 0x01, a count
 * out of range: 0x03, past the last address: 0x02). */
int simsrv_parse(const uint8_t *q, int len, int header_len, struct simdev_req *r);

/* Answer one received request for unit on ctx. Returns the exception code answered
 * (0: a normal reply or none). */
int simsrv_handle(struct simdev *d, modbus_t *ctx, modbus_mapping_t *map, uint8_t *q, int len,
                  int unit, int stop_fd);

/* The reply buffer every server thread uses: all 65536 holding and input registers. */
modbus_mapping_t *simsrv_new_mapping(void);

struct simsrv_tcp;

struct simsrv_client {
    struct simsrv_tcp *tcp;
    int fd;
    pthread_t thread;
    bool used;                   /* the thread exists (and is joined by the acceptor) */
    atomic_bool done;            /* the thread has finished: join it */
};

struct simsrv_tcp {
    struct simdev *dev;
    modbus_t *ctx;               /* the listener's */
    int listen_fd;
    int stop_fd;
    struct simsrv_client clients[SIMSRV_TCP_CLIENTS];
};

/* Listen on addr:port (a dotted IPv4 address; port 0: one the kernel picks, which
 * simsrv_tcp_port then names). Returns 0, or -1 with err. */
int simsrv_tcp_open(struct simsrv_tcp *t, struct simdev *d, const char *addr, int port,
                    int stop_fd, char *err, size_t errlen);
/* The port t listens on (the kernel's pick when opened with port 0), or -1. */
int simsrv_tcp_port(const struct simsrv_tcp *t);
/* The acceptor (arg: struct simsrv_tcp *): a thread per master; returns on stop, after
 * joining them. */
void *simsrv_tcp_thread(void *arg);
void simsrv_tcp_close(struct simsrv_tcp *t);

struct simsrv_rtu {
    struct simdev *dev;
    modbus_t *ctx;
    int unit;
    int fd;                      /* the server's end of the socketpair */
    int wire_fd;                 /* the wire's end */
    int stop_fd;
};

/* An RTU server for one unit, framing as in the config's [drive] serial settings. */
int simsrv_rtu_open(struct simsrv_rtu *r, struct simdev *d, int unit,
                    const struct ecc_config *cfg, const char *pty_path, int stop_fd, char *err,
                    size_t errlen);
void *simsrv_rtu_thread(void *arg);      /* arg: struct simsrv_rtu *; returns on stop */
void simsrv_rtu_close(struct simsrv_rtu *r);

#endif
