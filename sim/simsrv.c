/* simsrv.c - eccsim's Modbus servers (see simsrv.h). */
#include "sim/simsrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"

#define REGS 65536

/* ---- requests ---------------------------------------------------------------------- */

static int be16(const uint8_t *b)
{
    return b[0] << 8 | b[1];
}

static int parse_write_multiple(const uint8_t *pdu, int pdu_len, struct simdev_req *r)
{
    r->count = be16(pdu + 3);
    if (r->count < 1 || r->count > MODBUS_MAX_WRITE_REGISTERS || pdu[5] != 2 * r->count ||
        pdu_len < 6 + 2 * r->count)
        return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
    for (int i = 0; i < r->count; i++)
        r->vals[i] = (uint16_t)be16(pdu + 6 + 2 * i);
    return 0;
}

int simsrv_parse(const uint8_t *q, int len, int header_len, struct simdev_req *r)
{
    const uint8_t *pdu = q + header_len;     /* function code first */
    int pdu_len = len - header_len;

    memset(r, 0, sizeof *r);
    if (pdu_len < 1)
        return MODBUS_EXCEPTION_ILLEGAL_FUNCTION;
    r->fc = pdu[0];
    if (r->fc != MODBUS_FC_READ_HOLDING_REGISTERS && r->fc != MODBUS_FC_READ_INPUT_REGISTERS &&
        r->fc != MODBUS_FC_WRITE_SINGLE_REGISTER && r->fc != MODBUS_FC_WRITE_MULTIPLE_REGISTERS)
        return MODBUS_EXCEPTION_ILLEGAL_FUNCTION;
    if (pdu_len < 5)
        return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
    r->addr = be16(pdu + 1);
    if (r->fc == MODBUS_FC_WRITE_SINGLE_REGISTER) {
        r->count = 1;
        r->vals[0] = (uint16_t)be16(pdu + 3);
    } else if (r->fc == MODBUS_FC_WRITE_MULTIPLE_REGISTERS) {
        int exc = parse_write_multiple(pdu, pdu_len, r);
        if (exc)
            return exc;
    } else {
        r->count = be16(pdu + 3);
        if (r->count < 1 || r->count > MODBUS_MAX_READ_REGISTERS)
            return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
    }
    return r->addr + r->count > REGS ? MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS : 0;
}

/* ---- replies ----------------------------------------------------------------------- */

modbus_mapping_t *simsrv_new_mapping(void)
{
    return modbus_mapping_new_start_address(0, 0, 0, 0, 0, REGS, 0, REGS);
}

/* Wait s seconds unless eccsim stops first (then false). */
static bool wait_unless_stopping(int stop_fd, double s)
{
    struct pollfd p = {.fd = stop_fd, .events = POLLIN};

    return poll(&p, 1, (int)(s * 1e3 + 0.5)) == 0;
}

/* A normal reply: the values read go into the mapping, which modbus_reply() copies. */
static void reply_ok(modbus_t *ctx, modbus_mapping_t *map, const uint8_t *q, int len,
                     const struct simdev_req *r, const uint16_t *out)
{
    uint16_t *tab = r->fc == MODBUS_FC_READ_INPUT_REGISTERS ? map->tab_input_registers
                                                             : map->tab_registers;

    if (r->fc == MODBUS_FC_READ_HOLDING_REGISTERS || r->fc == MODBUS_FC_READ_INPUT_REGISTERS)
        memcpy(tab + r->addr, out, (size_t)r->count * sizeof *out);
    if (modbus_reply(ctx, q, len, map) < 0)
        log_debug("reply: %s", modbus_strerror(errno));
}

static const char *action_name(enum simdev_action a)
{
    static const char *const names[] = {"answer", "silent", "late", "exception", "corrupt"};
    return names[a];
}

int simsrv_handle(struct simdev *d, modbus_t *ctx, modbus_mapping_t *map, uint8_t *q, int len,
                  int unit, int stop_fd)
{
    int hl = modbus_get_header_length(ctx);
    bool tcp = hl > 1;
    bool broadcast = !tcp && q[hl - 1] == MODBUS_BROADCAST_ADDRESS;
    struct simdev_req r;
    uint16_t out[SIMDEV_REGS_MAX];
    enum simdev_action act;
    int exc = simsrv_parse(q, len, hl, &r);

    exc = simdev_request(d, unit, &r, exc, out, &act);
    log_debug("unit %d fc %d addr 0x%04x n %d: %s, exception %d", unit, r.fc, r.addr, r.count,
              action_name(act), exc);
    if (act == SIMDEV_SILENT || broadcast)
        return 0;
    if (act == SIMDEV_LATE && !wait_unless_stopping(stop_fd, d->late_s))
        return 0;
    if (act == SIMDEV_CORRUPT && tcp)
        q[1] ^= 0x5A;                /* the transaction id the master will not expect */
    if (exc) {
        modbus_reply_exception(ctx, q, (unsigned)exc);
        return exc;
    }
    reply_ok(ctx, map, q, len, &r, out);
    return 0;
}

/* poll() until something happens (signals are blocked here, but be sure); -1 on error. */
static int poll_events(struct pollfd *fds, nfds_t n)
{
    int rc;

    while ((rc = poll(fds, n, -1)) < 0 && errno == EINTR)
        ;
    return rc;
}

/* Throw away whatever a confused master left in the stream. */
static void drain(int fd)
{
    uint8_t junk[256];

    while (recv(fd, junk, sizeof junk, MSG_DONTWAIT) > 0)
        ;
}

/* ---- TCP ------------------------------------------------------------------------- */

int simsrv_tcp_open(struct simsrv_tcp *t, struct simdev *d, const char *addr, int port,
                    int stop_fd, char *err, size_t errlen)
{
    struct in_addr a;

    memset(t, 0, sizeof *t);
    t->listen_fd = -1;
    if (inet_pton(AF_INET, addr, &a) != 1) {
        snprintf(err, errlen, "[eccsim] listen: '%s' is not a dotted IPv4 address", addr);
        return -1;
    }
    t->ctx = modbus_new_tcp(addr, port);
    if (t->ctx)
        t->listen_fd = modbus_tcp_listen(t->ctx, SIMSRV_TCP_CLIENTS);
    if (t->listen_fd < 0) {
        snprintf(err, errlen, "[eccsim] tcp_port: cannot listen on %s:%d: %s", addr, port,
                 strerror(errno));
        simsrv_tcp_close(t);
        return -1;
    }
    fcntl(t->listen_fd, F_SETFD, FD_CLOEXEC);
    t->dev = d;
    t->stop_fd = stop_fd;
    return 0;
}

int simsrv_tcp_port(const struct simsrv_tcp *t)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;

    if (t->listen_fd < 0 || getsockname(t->listen_fd, (struct sockaddr *)&a, &len) != 0 ||
        a.sin_family != AF_INET)
        return -1;
    return ntohs(a.sin_port);
}

void simsrv_tcp_close(struct simsrv_tcp *t)
{
    if (t->listen_fd >= 0)
        close(t->listen_fd);
    if (t->ctx)
        modbus_free(t->ctx);
    t->listen_fd = -1;
    t->ctx = NULL;
}

/* One connected master, on a thread of its own: a late answer to it holds up no other. */
static void *client_thread(void *arg)
{
    struct simsrv_client *c = arg;
    struct simsrv_tcp *t = c->tcp;
    struct pollfd fds[2] = {{.fd = t->stop_fd, .events = POLLIN}, {.fd = c->fd, .events = POLLIN}};
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", 0);   /* frames only: never connects */
    modbus_mapping_t *map = simsrv_new_mapping();
    uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];

    if (!ctx || !map || modbus_set_socket(ctx, c->fd) != 0)
        log_error("tcp: cannot serve a master: out of memory");
    while (ctx && map) {
        int len;

        if (poll_events(fds, 2) < 0)
            break;
        if (fds[0].revents)
            break;
        if (!fds[1].revents)
            continue;
        len = modbus_receive(ctx, q);
        if (len < 0) {
            log_info("tcp: connection closed (%s)", modbus_strerror(errno));
            break;
        }
        if (len > 0 && simsrv_handle(t->dev, ctx, map, q, len, q[6], t->stop_fd) ==
                           MODBUS_EXCEPTION_ILLEGAL_FUNCTION)
            drain(c->fd);            /* libmodbus cannot frame the rest of it */
    }
    if (ctx) {
        modbus_set_socket(ctx, -1);
        modbus_free(ctx);
    }
    modbus_mapping_free(map);
    close(c->fd);
    atomic_store(&c->done, true);
    return NULL;
}

/* Join the client threads that have finished (all of them when `all`). */
static void reap_clients(struct simsrv_tcp *t, bool all)
{
    for (int i = 0; i < SIMSRV_TCP_CLIENTS; i++) {
        struct simsrv_client *c = &t->clients[i];

        if (c->used && (all || atomic_load(&c->done))) {
            pthread_join(c->thread, NULL);
            c->used = false;
        }
    }
}

static void accept_client(struct simsrv_tcp *t)
{
    int fd = accept(t->listen_fd, NULL, NULL);

    if (fd < 0)
        return;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    reap_clients(t, false);
    for (int i = 0; i < SIMSRV_TCP_CLIENTS; i++) {
        struct simsrv_client *c = &t->clients[i];

        if (c->used)
            continue;
        c->tcp = t;
        c->fd = fd;
        atomic_store(&c->done, false);
        if (pthread_create(&c->thread, NULL, client_thread, c) != 0)
            break;
        c->used = true;
        log_info("tcp: a master connected");
        return;
    }
    log_warn("tcp: %d masters connected already; one more refused", SIMSRV_TCP_CLIENTS);
    close(fd);
}

void *simsrv_tcp_thread(void *arg)
{
    struct simsrv_tcp *t = arg;
    struct pollfd fds[2] = {{.fd = t->stop_fd, .events = POLLIN},
                            {.fd = t->listen_fd, .events = POLLIN}};

    for (;;) {
        if (poll_events(fds, 2) < 0)
            break;
        if (fds[0].revents)
            break;
        if (fds[1].revents & POLLIN)
            accept_client(t);
    }
    reap_clients(t, true);
    return NULL;
}

/* ---- RTU --------------------------------------------------------------------------- */

static char parity_char(enum cfg_parity p)
{
    return p == CFG_PARITY_EVEN ? 'E' : p == CFG_PARITY_ODD ? 'O' : 'N';
}

int simsrv_rtu_open(struct simsrv_rtu *r, struct simdev *d, int unit,
                    const struct ecc_config *cfg, const char *pty_path, int stop_fd, char *err,
                    size_t errlen)
{
    int sv[2];

    memset(r, 0, sizeof *r);
    r->fd = r->wire_fd = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errlen, "rtu: socketpair: %s", strerror(errno));
        return -1;
    }
    r->fd = sv[0];
    r->wire_fd = sv[1];
    /* The context only frames and checks; it never opens pty_path itself. */
    r->ctx = modbus_new_rtu(pty_path, cfg->drive.baud, parity_char(cfg->drive.parity),
                            cfg->drive.data_bits, cfg->drive.stop_bits);
    if (!r->ctx || modbus_set_slave(r->ctx, unit) != 0 || modbus_set_socket(r->ctx, r->fd) != 0) {
        snprintf(err, errlen, "rtu: cannot set up the unit %d server: %s", unit,
                 modbus_strerror(errno));
        simsrv_rtu_close(r);
        return -1;
    }
    r->dev = d;
    r->unit = unit;
    r->stop_fd = stop_fd;
    return 0;
}

void simsrv_rtu_close(struct simsrv_rtu *r)
{
    if (r->ctx) {
        modbus_set_socket(r->ctx, -1);   /* not a tty: modbus_close() must not touch it */
        modbus_free(r->ctx);
    }
    if (r->fd >= 0)
        close(r->fd);
    if (r->wire_fd >= 0)
        close(r->wire_fd);
    r->ctx = NULL;
    r->fd = r->wire_fd = -1;
}

void *simsrv_rtu_thread(void *arg)
{
    struct simsrv_rtu *r = arg;
    struct pollfd fds[2] = {{.fd = r->stop_fd, .events = POLLIN}, {.fd = r->fd, .events = POLLIN}};
    modbus_mapping_t *map = simsrv_new_mapping();
    uint8_t q[MODBUS_RTU_MAX_ADU_LENGTH];

    if (!map) {
        log_error("rtu: out of memory");
        return NULL;
    }
    for (;;) {
        int len;

        if (poll_events(fds, 2) < 0)
            break;
        if (fds[0].revents || (fds[1].revents & (POLLHUP | POLLERR)))
            break;
        if (!(fds[1].revents & POLLIN))
            continue;
        len = modbus_receive(r->ctx, q);
        if (len > 0)
            simsrv_handle(r->dev, r->ctx, map, q, len, r->unit, r->stop_fd);
        else if (len < 0)
            drain(r->fd);            /* a bad CRC or a broken frame: resync */
    }
    modbus_mapping_free(map);
    return NULL;
}
