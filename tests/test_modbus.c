/* test_modbus.c - the Modbus drive and load-cell backends against a Modbus TCP server that
 * runs inside the test (a libmodbus server thread on 127.0.0.1, a free port).
 *
 * The server can be told to answer normally, stay silent, answer with exceptions, answer
 * with a bad frame (wrong transaction id), or drop the connection once. The tests assert
 * what lands in its registers and what the backends report: profile values written,
 * setpoint written every cycle, speed read back with its timestamp, failures counted by
 * kind, comm loss, health, trips, stop on close, load-cell decoding, saturation, tare,
 * shared and separate buses, and control-side calls that return while the wire is stuck.
 * Time limits here are only upper bounds on waiting for something to happen.
 */
#include "hal/hal_modbus.h"
#include "hal/drive_modbus.h"
#include "hal/hal_hw.h"
#include "hal/loadcell_iio.h"
#include "hal/loadcell_modbus.h"
#include "tests/test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <modbus.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REGS 0x5100              /* covers every built-in profile's registers */
#define CLIENTS_MAX 8
#define WAIT_S 3.0               /* s, longest wait for something that should happen */
#define LC_REG 100               /* load-cell reading in the test server */
#define ERRLEN 512

/* ---- time helpers ------------------------------------------------------------------ */

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void sleep_ms(int ms)
{
    struct timespec d = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&d, NULL);
}

/* Poll cond every millisecond for at most WAIT_S; the CHECK after it says what failed. */
#define WAIT_UNTIL(cond)                                                                \
    do {                                                                                \
        double t0_ = mono();                                                            \
        while (!(cond) && mono() - t0_ < WAIT_S)                                        \
            sleep_ms(1);                                                                \
    } while (0)

/* The injected HAL clock: distinct, increasing times from 100 s, so a timestamp can be
 * told apart from the wall clock and from "none yet" (-1). */
static atomic_long clock_calls;

static double fake_now(void *ctx)
{
    (void)ctx;
    return 100.0 + (double)atomic_fetch_add(&clock_calls, 1) * 0.001;
}

/* ---- the test server --------------------------------------------------------------- */

enum srv_mode { SRV_NORMAL, SRV_SILENT, SRV_EXCEPTION, SRV_BAD_FRAME, SRV_CLOSE };

struct server {
    int port;
    int listen_fd;
    modbus_t *ctx;
    modbus_mapping_t *map;
    pthread_t thread;
    int clients[CLIENTS_MAX];    /* server thread only */
    int nclients;

    pthread_mutex_t mu;          /* guards everything below and the map */
    bool stop;
    enum srv_mode mode;
    long connections;
    long unit_requests[256];
    int silent_unit;             /* requests to this unit id get no answer (0: none) */
    long *writes;                /* per register: write requests that touched it */
};

static int listen_any_port(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 8) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static void drop_client(struct server *s, int fd)
{
    close(fd);
    for (int i = 0; i < s->nclients; i++) {
        if (s->clients[i] == fd) {
            s->clients[i] = s->clients[--s->nclients];
            break;
        }
    }
}

static void accept_client(struct server *s)
{
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0)
        return;
    if (s->nclients == CLIENTS_MAX) {
        close(fd);
        return;
    }
    s->clients[s->nclients++] = fd;
    pthread_mutex_lock(&s->mu);
    s->connections++;
    pthread_mutex_unlock(&s->mu);
}

/* Under s->mu: count the registers a write request (fc 6 or 16) touches. */
static void log_writes(struct server *s, const uint8_t *q)
{
    int fc = q[7], addr = q[8] << 8 | q[9];
    int n = fc == 6 ? 1 : fc == 16 ? (q[10] << 8 | q[11]) : 0;
    for (int i = 0; i < n && addr + i < REGS; i++)
        s->writes[addr + i]++;
}

static void serve_request(struct server *s, int fd)
{
    uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];

    modbus_set_socket(s->ctx, fd);
    int len = modbus_receive(s->ctx, q);
    if (len < 0) {
        drop_client(s, fd);
        return;
    }
    if (len == 0)
        return;
    pthread_mutex_lock(&s->mu);
    enum srv_mode mode = s->silent_unit && q[6] == s->silent_unit ? SRV_SILENT : s->mode;
    s->unit_requests[q[6]]++;
    switch (mode) {
    case SRV_NORMAL:
        log_writes(s, q);
        modbus_reply(s->ctx, q, len, s->map);
        break;
    case SRV_SILENT:
        break;
    case SRV_EXCEPTION:
        modbus_reply_exception(s->ctx, q, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
        break;
    case SRV_BAD_FRAME:
        q[1] ^= 0x5A;            /* the answer carries another transaction id */
        modbus_reply(s->ctx, q, len, s->map);
        break;
    case SRV_CLOSE:
        s->mode = SRV_NORMAL;    /* once */
        break;
    }
    pthread_mutex_unlock(&s->mu);
    if (mode == SRV_CLOSE)
        drop_client(s, fd);
}

static bool server_stopping(struct server *s)
{
    pthread_mutex_lock(&s->mu);
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static void *server_main(void *arg)
{
    struct server *s = arg;

    while (!server_stopping(s)) {
        struct pollfd fds[1 + CLIENTS_MAX];
        int n = 0;
        fds[n++] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
        for (int i = 0; i < s->nclients; i++)
            fds[n++] = (struct pollfd){.fd = s->clients[i], .events = POLLIN};
        if (poll(fds, (nfds_t)n, 5) <= 0)
            continue;
        if (fds[0].revents & POLLIN)
            accept_client(s);
        for (int i = 1; i < n; i++)
            if (fds[i].revents & (POLLIN | POLLHUP | POLLERR))
                serve_request(s, fds[i].fd);
    }
    while (s->nclients)
        drop_client(s, s->clients[0]);
    return NULL;
}

static struct server *server_start(void)
{
    struct server *s = calloc(1, sizeof *s);
    s->listen_fd = listen_any_port(&s->port);
    s->ctx = modbus_new_tcp("127.0.0.1", s->port);
    s->map = modbus_mapping_new(0, 0, REGS, REGS);
    s->writes = calloc(REGS, sizeof *s->writes);
    if (s->listen_fd < 0 || !s->ctx || !s->map || !s->writes) {
        printf("  cannot start the test server: %s\n", strerror(errno));
        exit(1);
    }
    modbus_set_indication_timeout(s->ctx, 0, 500000);   /* a half request cannot hang it */
    pthread_mutex_init(&s->mu, NULL);
    pthread_create(&s->thread, NULL, server_main, s);
    return s;
}

static void server_stop(struct server *s)
{
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    modbus_free(s->ctx);
    modbus_mapping_free(s->map);
    pthread_mutex_destroy(&s->mu);
    free(s->writes);
    free(s);
}

static void server_set_mode(struct server *s, enum srv_mode mode)
{
    pthread_mutex_lock(&s->mu);
    s->mode = mode;
    pthread_mutex_unlock(&s->mu);
}

/* Holding and input register addr both hold v. */
static void server_set_reg(struct server *s, int addr, uint16_t v)
{
    pthread_mutex_lock(&s->mu);
    s->map->tab_registers[addr] = v;
    s->map->tab_input_registers[addr] = v;
    pthread_mutex_unlock(&s->mu);
}

static uint16_t server_reg(struct server *s, int addr)
{
    pthread_mutex_lock(&s->mu);
    uint16_t v = s->map->tab_registers[addr];
    pthread_mutex_unlock(&s->mu);
    return v;
}

static long server_writes(struct server *s, int addr)
{
    pthread_mutex_lock(&s->mu);
    long n = s->writes[addr];
    pthread_mutex_unlock(&s->mu);
    return n;
}

static long server_connections(struct server *s)
{
    pthread_mutex_lock(&s->mu);
    long n = s->connections;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static long server_unit_requests(struct server *s, int unit)
{
    pthread_mutex_lock(&s->mu);
    long n = s->unit_requests[unit];
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ---- fixtures ---------------------------------------------------------------------- */

/* A Modbus TCP drive on srv with short timings: 20 ms timeout, no retries, 200 Hz. */
static void cfg_drive(struct ecc_config *c, const struct server *srv, const char *profile)
{
    config_defaults(c);
    c->rig.backend = CFG_BACKEND_HW;
    c->loop.rate_hz = 200;
    c->drive.type = CFG_DRIVE_MODBUS_TCP;
    snprintf(c->drive.host, sizeof c->drive.host, "127.0.0.1");
    c->drive.port = srv->port;
    snprintf(c->drive.profile, sizeof c->drive.profile, "%s", profile);
    c->drive.unit_id = 1;
    c->drive.hz_per_mps = 60.0;
    c->drive.max_hz = 50.0;
    c->drive.min_gap_ms = 1;
    c->drive.timeout_ms = 20;
    c->drive.retries = 0;
    c->drive.healthy_after = 3;
    c->drive.fail_after = 3;
    c->drive.watchdog_s = 0.2;
    c->loadcell.type = CFG_LOADCELL_SIM;
}

/* A Modbus load cell (unit 2, register LC_REG) on its own TCP link to srv, no drive. */
static void cfg_loadcell(struct ecc_config *c, const struct server *srv,
                         enum cfg_data_type type, enum cfg_word_order order)
{
    config_defaults(c);
    c->rig.backend = CFG_BACKEND_HW;
    c->drive.type = CFG_DRIVE_SIM;
    c->drive.min_gap_ms = 0;
    c->drive.timeout_ms = 20;
    c->drive.retries = 0;
    c->drive.healthy_after = 3;
    c->loadcell.type = CFG_LOADCELL_MODBUS;
    c->loadcell.link = CFG_LC_LINK_TCP;
    snprintf(c->loadcell.host, sizeof c->loadcell.host, "127.0.0.1");
    c->loadcell.port = srv->port;
    c->loadcell.unit_id = 2;
    c->loadcell.reg = LC_REG;
    c->loadcell.reg_kind = CFG_REG_HOLDING;
    c->loadcell.data_type = type;
    c->loadcell.word_order = order;
    c->loadcell.scale = 1.0;
    c->loadcell.offset = 0.0;
    c->loadcell.full_scale_n = 1000.0;
    c->loadcell.rate_hz = 200;
}

static struct hal_modbus *open_or_fail(const struct ecc_config *c, struct hal *hal)
{
    char err[ERRLEN] = "";
    memset(hal, 0, sizeof *hal);
    struct hal_modbus *m = hal_modbus_open(c, fake_now, NULL, hal, err, sizeof err);
    if (!m)
        printf("  hal_modbus_open: %s\n", err);
    CHECK(m != NULL);
    return m;
}

static struct hal_drive_status dstat(struct hal *hal)
{
    struct hal_drive_status st;
    hal_drive_status(&hal->drive, &st);
    return st;
}

/* Wait for n more drive cycles to be published (each moves tx_ok on): with n = 2 the
 * last of them began after this call. 1, or 0 if they did not come within WAIT_S each. */
static int new_cycles(struct hal *hal, int n)
{
    for (int i = 0; i < n; i++) {
        long tx = dstat(hal).tx_ok;
        WAIT_UNTIL(dstat(hal).tx_ok > tx);
        if (dstat(hal).tx_ok == tx)
            return 0;
    }
    return 1;
}

static struct loadcell_modbus_status lstat(struct hal_modbus *m)
{
    struct loadcell_modbus_status st;
    memset(&st, 0, sizeof st);
    hal_modbus_loadcell_status(m, &st);
    return st;
}

/* The latest load-cell sample read through struct hal_force, after draining the rest. */
static bool latest_force(struct hal *hal, double *t, double *n)
{
    double ts[64], ns[64];
    int got = 0, k;
    while ((k = hal->force.read(hal->force.ctx, ts, ns, 64)) > 0) {
        *t = ts[k - 1];
        *n = ns[k - 1];
        got += k;
    }
    return got > 0;
}

/* ---- drive: each profile's values on the wire -------------------------------------- */

TEST(delta_run_stop_and_read_back)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;

    cfg_drive(&c, srv, "delta-vfd");
    struct hal_modbus *m = open_or_fail(&c, &hal);
    CHECK_NEAR(hal.drive.cap_mps, c.limits.speed_max, 0);
    CHECK_INT(hal_drive_set_speed(&hal.drive, 0.5), 0);       /* 30 Hz */
    WAIT_UNTIL(server_reg(srv, 0x2001) == 3000 && server_reg(srv, 0x2000) == 0x0012);
    CHECK_INT(server_reg(srv, 0x2001), 3000);                 /* Hz x 100 */
    CHECK_INT(server_reg(srv, 0x2000), 0x0012);               /* run forward */

    server_set_reg(srv, 0x2103, 2940);                        /* 29.40 Hz out */
    server_set_reg(srv, 0x2104, 25);                          /* 2.5 A */
    WAIT_UNTIL(fabs(dstat(&hal).speed_mps - 0.49) < 1e-9);
    struct hal_drive_status st = dstat(&hal);
    CHECK(st.present);
    CHECK_NEAR(st.speed_mps, 29.40 / 60.0, 1e-9);
    CHECK(st.t_speed >= 100.0);                               /* the injected clock */
    CHECK_NEAR(st.current_a, 2.5, 1e-9);
    CHECK(!st.tripped);
    CHECK(st.tx_ok > 0);

    CHECK_INT(hal_drive_stop(&hal.drive), 0);
    WAIT_UNTIL(server_reg(srv, 0x2000) == 0x0001 && server_reg(srv, 0x2001) == 0);
    CHECK_INT(server_reg(srv, 0x2000), 0x0001);
    CHECK_INT(server_reg(srv, 0x2001), 0);
    hal_modbus_close(m);
    server_stop(srv);
}

TEST(optidrive_run_read_back_and_coast)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;

    cfg_drive(&c, srv, "optidrive-e3");
    c.drive.stop_mode = CFG_STOP_COAST;
    struct hal_modbus *m = open_or_fail(&c, &hal);
    hal_drive_set_speed(&hal.drive, 0.5);
    WAIT_UNTIL(server_reg(srv, 1) == 300 && server_reg(srv, 0) == 0x0001);
    CHECK_INT(server_reg(srv, 1), 300);                       /* register 2: Hz x 10 */
    CHECK_INT(server_reg(srv, 0), 0x0001);                    /* register 1: run enable */

    server_set_reg(srv, 6, 300);                              /* register 7: 30.0 Hz */
    server_set_reg(srv, 7, 12);                               /* register 8: 1.2 A */
    WAIT_UNTIL(fabs(dstat(&hal).speed_mps - 0.5) < 1e-9 && dstat(&hal).current_a > 1.0);
    CHECK_NEAR(dstat(&hal).speed_mps, 0.5, 1e-9);
    CHECK_NEAR(dstat(&hal).current_a, 1.2, 1e-9);

    /* Register 6: the state byte alone (running) is no trip; the error code byte is. */
    server_set_reg(srv, 5, 0x0001);
    CHECK(new_cycles(&hal, 2));                               /* one read it whole */
    CHECK(!dstat(&hal).tripped);
    server_set_reg(srv, 5, 0x1502);
    WAIT_UNTIL(dstat(&hal).tripped);
    CHECK(dstat(&hal).tripped);
    CHECK_INT(dstat(&hal).fault_code, 0x15);

    hal_modbus_fault_stop(m);                                 /* stop_mode = coast */
    WAIT_UNTIL(server_reg(srv, 0) == 0x0008 && server_reg(srv, 1) == 0);
    CHECK_INT(server_reg(srv, 0), 0x0008);                    /* bit 3: coast stop */
    CHECK_INT(server_reg(srv, 1), 0);
    hal_modbus_close(m);
    server_stop(srv);
}

TEST(huanyang_percent_setpoint_and_read_back)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;

    cfg_drive(&c, srv, "huanyang-gt");
    struct hal_modbus *m = open_or_fail(&c, &hal);
    hal_drive_set_speed(&hal.drive, 0.5);                     /* 30 Hz of 50: 60.00 % */
    WAIT_UNTIL(server_reg(srv, 0x2000) == 6000 && server_reg(srv, 0x1000) == 1);
    CHECK_INT(server_reg(srv, 0x2000), 6000);
    CHECK_INT(server_reg(srv, 0x1000), 1);
    server_set_reg(srv, 0x3000, 1500);                        /* 15.00 Hz */
    WAIT_UNTIL(fabs(dstat(&hal).speed_mps - 0.25) < 1e-9);
    CHECK_NEAR(dstat(&hal).speed_mps, 0.25, 1e-9);
    CHECK(isnan(dstat(&hal).current_a));                      /* not in the profile */
    hal_drive_stop(&hal.drive);
    WAIT_UNTIL(server_reg(srv, 0x1000) == 5);
    CHECK_INT(server_reg(srv, 0x1000), 5);
    hal_modbus_close(m);
    server_stop(srv);
}

TEST(setpoint_written_every_cycle_command_refreshed)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;

    cfg_drive(&c, srv, "delta-vfd");                          /* 200 Hz, watchdog 0.2 s */
    struct hal_modbus *m = open_or_fail(&c, &hal);
    hal_drive_set_speed(&hal.drive, 0.3);
    WAIT_UNTIL(server_reg(srv, 0x2000) == 0x0012);
    long sp0 = server_writes(srv, 0x2001), cmd0 = server_writes(srv, 0x2000);
    /* Counted in bus cycles, not wall time: 40 setpoint writes are 40 cycles of at least
     * 5 ms each (the bus is paced at 200 Hz, never faster), so at least 200 ms in which
     * the command is refreshed every watchdog_s / 4 = 50 ms. */
    WAIT_UNTIL(server_writes(srv, 0x2001) - sp0 >= 40);
    long sp = server_writes(srv, 0x2001) - sp0, cmd = server_writes(srv, 0x2000) - cmd0;
    printf("  over %ld setpoint writes (one a cycle): %ld command writes\n", sp, cmd);
    CHECK(sp >= 40);             /* unchanged, still written each cycle */
    CHECK(cmd >= 2);             /* refreshed: 40 cycles are at least 4 refresh periods */
    CHECK(cmd * 4 < sp);         /* but not every cycle */
    hal_modbus_close(m);
    server_stop(srv);
}

/* ---- drive: failures, health, trips -------------------------------------------------- */

TEST(timeouts_counted_then_comm_lost_then_back)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;

    cfg_drive(&c, srv, "delta-vfd");
    c.drive.retries = 2;
    struct hal_modbus *m = open_or_fail(&c, &hal);
    server_set_reg(srv, 0x2103, 3000);
    WAIT_UNTIL(dstat(&hal).healthy);
    CHECK(dstat(&hal).healthy);
    CHECK(!dstat(&hal).comm_lost);

    server_set_mode(srv, SRV_SILENT);
    WAIT_UNTIL(dstat(&hal).comm_lost);
    struct hal_drive_status st = dstat(&hal);
    CHECK(st.comm_lost);
    CHECK(!st.healthy);
    CHECK(st.tx_failed >= c.drive.fail_after);
    CHECK_INT(st.timeouts, 3 * st.tx_failed);                 /* 1 + 2 retries each */
    /* On TCP every timeout drops the connection (a late answer must not be read as the
     * answer to the next request): each attempt after a timeout is a reconnect. */
    CHECK_INT(st.reconnects, st.timeouts - 1);
    CHECK_NEAR(st.speed_mps, 0.5, 1e-9);                      /* the last reading, stale */
    double t_stale = st.t_speed;
    WAIT_UNTIL(dstat(&hal).timeouts >= st.timeouts + 3);      /* more tries, all failed */
    CHECK(dstat(&hal).timeouts >= st.timeouts + 3);
    CHECK_NEAR(dstat(&hal).t_speed, t_stale, 0);              /* and its time did not move */

    server_set_mode(srv, SRV_NORMAL);
    WAIT_UNTIL(!dstat(&hal).comm_lost);
    st = dstat(&hal);
    CHECK(!st.comm_lost);
    CHECK(st.healthy);                                        /* back only when healthy */
    CHECK(st.t_speed > t_stale);
    hal_modbus_close(m);
    server_stop(srv);
}

TEST(exception_is_a_transaction_error_not_a_link_error)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;

    cfg_drive(&c, srv, "delta-vfd");
    c.drive.retries = 2;
    struct hal_modbus *m = open_or_fail(&c, &hal);
    WAIT_UNTIL(dstat(&hal).healthy);
    server_set_mode(srv, SRV_EXCEPTION);
    WAIT_UNTIL(dstat(&hal).exceptions >= 5);
    struct hal_drive_status st = dstat(&hal);
    CHECK(st.exceptions >= 5);
    CHECK_INT(st.exceptions, st.tx_failed);                   /* not retried */
    CHECK_INT(st.timeouts, 0);
    CHECK_INT(st.reconnects, 0);
    CHECK_INT(server_connections(srv), 1);                    /* the link stayed up */
    CHECK(!st.healthy);
    server_set_mode(srv, SRV_NORMAL);
    WAIT_UNTIL(dstat(&hal).healthy);
    CHECK(dstat(&hal).healthy);
    hal_modbus_close(m);
    server_stop(srv);
}

TEST(bad_frame_counted_and_recovered)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;

    cfg_drive(&c, srv, "delta-vfd");
    struct hal_modbus *m = open_or_fail(&c, &hal);
    WAIT_UNTIL(dstat(&hal).healthy);
    server_set_mode(srv, SRV_BAD_FRAME);
    WAIT_UNTIL(dstat(&hal).bad_frames >= 3);
    CHECK(dstat(&hal).bad_frames >= 3);
    CHECK(!dstat(&hal).healthy);
    server_set_mode(srv, SRV_NORMAL);
    WAIT_UNTIL(dstat(&hal).healthy);
    CHECK(dstat(&hal).healthy);
    hal_modbus_close(m);
    server_stop(srv);
}

TEST(dropped_connection_reconnects_and_is_counted)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;

    cfg_drive(&c, srv, "delta-vfd");
    struct hal_modbus *m = open_or_fail(&c, &hal);
    WAIT_UNTIL(dstat(&hal).healthy);
    CHECK_INT(server_connections(srv), 1);
    server_set_mode(srv, SRV_CLOSE);
    WAIT_UNTIL(dstat(&hal).reconnects >= 1 && dstat(&hal).healthy);
    struct hal_drive_status st = dstat(&hal);
    CHECK_INT(st.reconnects, 1);
    CHECK(st.healthy);
    CHECK_INT(server_connections(srv), 2);
    CHECK(st.tx_failed >= 1);
    hal_modbus_close(m);
    server_stop(srv);
}

TEST(healthy_only_after_enough_good_transactions)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;

    cfg_drive(&c, srv, "delta-vfd");
    c.drive.healthy_after = 60;
    struct hal_modbus *m = open_or_fail(&c, &hal);
    WAIT_UNTIL(dstat(&hal).tx_ok >= 10);
    struct hal_drive_status st = dstat(&hal);
    CHECK(st.tx_ok >= 10);
    CHECK(st.tx_ok >= 60 || !st.healthy);     /* fewer than 60 good: not healthy yet */
    WAIT_UNTIL(dstat(&hal).healthy);
    st = dstat(&hal);
    CHECK(st.healthy);
    CHECK(st.tx_ok >= 60);
    CHECK_INT(st.tx_failed, 0);
    hal_modbus_close(m);
    server_stop(srv);
}

TEST(drive_trip_reported_with_its_code_and_reset_written)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;

    cfg_drive(&c, srv, "delta-vfd");
    struct hal_modbus *m = open_or_fail(&c, &hal);
    server_set_reg(srv, 0x2100, 0x0021);
    WAIT_UNTIL(dstat(&hal).tripped);
    CHECK(dstat(&hal).tripped);
    CHECK_INT(dstat(&hal).fault_code, 0x21);
    CHECK(!dstat(&hal).comm_lost);            /* a trip is not a comm loss */

    CHECK_INT(hal_drive_reset(&hal.drive), 0);               /* through struct hal_drive */
    WAIT_UNTIL(server_writes(srv, 0x2002) >= 1);
    CHECK_INT(server_writes(srv, 0x2002), 1); /* written once */
    CHECK_INT(server_reg(srv, 0x2002), 0x0002);
    server_set_reg(srv, 0x2100, 0);
    WAIT_UNTIL(!dstat(&hal).tripped);
    CHECK(!dstat(&hal).tripped);
    CHECK_INT(dstat(&hal).fault_code, 0);
    hal_modbus_close(m);
    server_stop(srv);
}

TEST(stop_written_on_close)
{
    const char *profiles[] = {"delta-vfd", "optidrive-e3", "huanyang-gt"};
    const int cmd_reg[] = {0x2000, 0, 0x1000}, sp_reg[] = {0x2001, 1, 0x2000};
    const uint16_t run[] = {0x0012, 0x0001, 1}, stop[] = {0x0001, 0x0000, 5};

    for (int i = 0; i < 3; i++) {
        struct server *srv = server_start();
        struct ecc_config c;
        struct hal hal;

        cfg_drive(&c, srv, profiles[i]);
        struct hal_modbus *m = open_or_fail(&c, &hal);
        hal_drive_set_speed(&hal.drive, 0.5);
        WAIT_UNTIL(server_reg(srv, cmd_reg[i]) == run[i] && server_reg(srv, sp_reg[i]) != 0);
        CHECK_INT(server_reg(srv, cmd_reg[i]), run[i]);
        hal_modbus_close(m);     /* returns after the bus thread wrote stop */
        CHECK_INT(server_reg(srv, cmd_reg[i]), stop[i]);
        CHECK_INT(server_reg(srv, sp_reg[i]), 0);
        server_stop(srv);
    }
}

TEST(control_calls_return_while_the_wire_is_stuck)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;

    cfg_drive(&c, srv, "delta-vfd");
    c.drive.timeout_ms = 300;    /* each stuck transaction holds the bus thread 300 ms */
    c.loadcell.type = CFG_LOADCELL_MODBUS;
    c.loadcell.link = CFG_LC_LINK_DRIVE;
    c.loadcell.unit_id = 2;
    c.loadcell.reg = LC_REG;
    c.loadcell.data_type = CFG_DT_INT16;
    struct hal_modbus *m = open_or_fail(&c, &hal);
    server_set_reg(srv, 0x2103, 3000);
    WAIT_UNTIL(dstat(&hal).healthy && lstat(m).ring.samples > 0);
    double t = -1.0, n = NAN;
    latest_force(&hal, &t, &n);

    server_set_mode(srv, SRV_SILENT);
    WAIT_UNTIL(dstat(&hal).timeouts >= 1);
    CHECK_INT(hal_force_tare(&hal.force), 0);      /* a software tare, waiting for readings */
    /* The bus thread is now inside a 300 ms wait for an answer that never comes; every
     * control-side call still returns, with the stale state. */
    for (int i = 0; i < 2000; i++) {
        CHECK_INT(hal_drive_set_speed(&hal.drive, 0.1 + (i % 5) * 0.1), 0);
        CHECK_INT(hal_drive_stop(&hal.drive), 0);
        struct hal_drive_status st = dstat(&hal);
        CHECK(st.present);
        CHECK_NEAR(st.speed_mps, 0.5, 1e-9);
        double ts[8], ns[8];
        CHECK_INT(hal.force.read(hal.force.ctx, ts, ns, 8), 0);   /* nothing new */
        errno = 0;                                 /* refused at once: no readings come */
        CHECK(hal_force_tare(&hal.force) == -1 && errno == EBUSY);
        CHECK_INT(hal_modbus_reset_drive(m), 0);
    }
    CHECK(!dstat(&hal).healthy);
    server_set_mode(srv, SRV_NORMAL);
    hal_modbus_close(m);
    server_stop(srv);
}

/* ---- load cell --------------------------------------------------------------------- */

struct lc_case {
    const char *name;
    enum cfg_data_type type;
    enum cfg_word_order order;
    uint16_t w0, w1;             /* the registers at LC_REG, LC_REG + 1 */
    double scale, offset;
    double newtons;              /* expected */
};

static void check_lc_case(const struct lc_case *k)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;

    cfg_loadcell(&c, srv, k->type, k->order);
    c.loadcell.scale = k->scale;
    c.loadcell.offset = k->offset;
    server_set_reg(srv, LC_REG, k->w0);
    server_set_reg(srv, LC_REG + 1, k->w1);
    struct hal_modbus *m = open_or_fail(&c, &hal);
    CHECK(hal.drive.set_speed == NULL);       /* no Modbus drive here */
    WAIT_UNTIL(lstat(m).ring.samples >= 3);
    double t = -1, n = NAN;
    CHECK(latest_force(&hal, &t, &n));
    if (fabs(n - k->newtons) > 1e-3)
        printf("  case %s\n", k->name);
    CHECK_NEAR(n, k->newtons, 1e-3);
    CHECK(t >= 100.0);                        /* stamped on the injected clock */
    CHECK(!lstat(m).ring.saturated);
    CHECK(lstat(m).healthy);
    hal_modbus_close(m);
    server_stop(srv);
}

TEST(loadcell_types_and_word_orders)
{
    /* -1234 = 0xFB2E; -100000 = 0xFFFE7960; 3000000 = 0x002DC6C0; 123.5f = 0x42F70000 */
    const struct lc_case cases[] = {
        {"int16", CFG_DT_INT16, CFG_WORDS_BIG, 0xFB2E, 0, 0.5, 0.0, -617.0},
        {"uint16", CFG_DT_UINT16, CFG_WORDS_BIG, 40000, 0, 0.01, 10000.0, 300.0},
        {"int32 big", CFG_DT_INT32, CFG_WORDS_BIG, 0xFFFE, 0x7960, 0.001, 0.0, -100.0},
        {"int32 little", CFG_DT_INT32, CFG_WORDS_LITTLE, 0x7960, 0xFFFE, 0.001, 0.0, -100.0},
        {"uint32 big", CFG_DT_UINT32, CFG_WORDS_BIG, 0x002D, 0xC6C0, 1e-4, 1e6, 200.0},
        {"uint32 little", CFG_DT_UINT32, CFG_WORDS_LITTLE, 0xC6C0, 0x002D, 1e-4, 1e6, 200.0},
        {"float32 big", CFG_DT_FLOAT32, CFG_WORDS_BIG, 0x42F7, 0x0000, 1.0, 0.0, 123.5},
        {"float32 little", CFG_DT_FLOAT32, CFG_WORDS_LITTLE, 0x0000, 0x42F7, -2.0, 0.0, -247.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_lc_case(&cases[i]);
}

TEST(loadcell_decode_limits)
{
    uint16_t r[2];
    double raw;
    bool lim;

    r[0] = 0x7FFF;
    CHECK_INT(loadcell_decode(CFG_DT_INT16, CFG_WORDS_BIG, r, &raw, &lim), 0);
    CHECK(lim);
    r[0] = 0x8000;
    loadcell_decode(CFG_DT_INT16, CFG_WORDS_BIG, r, &raw, &lim);
    CHECK(lim);
    CHECK_NEAR(raw, -32768, 0);
    r[0] = 0xFFFF;
    loadcell_decode(CFG_DT_UINT16, CFG_WORDS_BIG, r, &raw, &lim);
    CHECK(lim);
    r[0] = 0x7FFF, r[1] = 0xFFFF;
    loadcell_decode(CFG_DT_INT32, CFG_WORDS_BIG, r, &raw, &lim);
    CHECK(lim);
    CHECK_NEAR(raw, 2147483647.0, 0);
    r[0] = 0x7FC0, r[1] = 0;                  /* float NaN: a bad sample */
    CHECK_INT(loadcell_decode(CFG_DT_FLOAT32, CFG_WORDS_BIG, r, &raw, &lim), -1);
    r[0] = 0xFF80, r[1] = 0;                  /* -inf: pinned, saturated */
    CHECK_INT(loadcell_decode(CFG_DT_FLOAT32, CFG_WORDS_BIG, r, &raw, &lim), 0);
    CHECK(lim);
    CHECK(raw < -1e38);
    r[0] = 1, r[1] = 2;
    loadcell_decode(CFG_DT_UINT32, CFG_WORDS_BIG, r, &raw, &lim);
    CHECK(!lim);
    CHECK_NEAR(raw, 65538.0, 0);
}

TEST(loadcell_saturation_flagged)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;

    cfg_loadcell(&c, srv, CFG_DT_INT16, CFG_WORDS_BIG);
    c.loadcell.scale = 0.01;                  /* 0x7FFF is only 327.67 N: within 1000 N */
    server_set_reg(srv, LC_REG, 20000);       /* 200 N */
    struct hal_modbus *m = open_or_fail(&c, &hal);
    WAIT_UNTIL(lstat(m).ring.samples >= 2);
    CHECK(!lstat(m).ring.saturated);

    server_set_reg(srv, LC_REG, 0x7FFF);      /* pinned at the type's limit */
    WAIT_UNTIL(lstat(m).ring.saturated);
    CHECK(lstat(m).ring.saturated);
    CHECK(lstat(m).ring.saturated_samples >= 1);

    hal_modbus_close(m);
    cfg_loadcell(&c, srv, CFG_DT_INT16, CFG_WORDS_BIG);
    c.loadcell.scale = 0.1;
    c.loadcell.full_scale_n = 500;
    server_set_reg(srv, LC_REG, 5000);        /* 500 N: at full scale */
    m = open_or_fail(&c, &hal);
    WAIT_UNTIL(lstat(m).ring.samples >= 2);
    CHECK(lstat(m).ring.saturated);
    server_set_reg(srv, LC_REG, (uint16_t)-5100);   /* -510 N: beyond it, either sign */
    WAIT_UNTIL(lstat(m).ring.raw < 0);
    CHECK(lstat(m).ring.saturated);
    server_set_reg(srv, LC_REG, 4000);
    WAIT_UNTIL(lstat(m).ring.raw > 0);
    CHECK(!lstat(m).ring.saturated);
    hal_modbus_close(m);
    server_stop(srv);
}

static struct hal_cal_status cal_status(struct hal *hal)
{
    struct hal_cal_status cs;
    hal_force_cal_status(&hal->force, &cs);
    return cs;
}

/* A scratch directory for a calibration file. */
static bool cal_dir(char *dir, size_t dirlen, char *path, size_t pathlen)
{
    snprintf(dir, dirlen, "/tmp/ecc-mbcal-XXXXXX");
    if (!mkdtemp(dir))
        return false;
    snprintf(path, pathlen, "%s/loadcell.cal", dir);
    return true;
}

/* With a tare register the transmitter zeroes itself: eccd writes it, reads net from then
 * on (offset 0, saved), and the span is eccd's, on the net readings. */
TEST(loadcell_tare_register_written)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;
    struct calibration back = {0, 1, 0};
    char dir[64], path[128], err[256];

    REQUIRE(cal_dir(dir, sizeof dir, path, sizeof path));
    cfg_loadcell(&c, srv, CFG_DT_INT32, CFG_WORDS_BIG);
    c.loadcell.tare_reg = 200;
    c.loadcell.tare_value = 0x5A5A;
    c.loadcell.offset = 77;
    c.loadcell.rate_hz = 100;
    snprintf(c.loadcell.calibration, sizeof c.loadcell.calibration, "%s", path);
    struct hal_modbus *m = open_or_fail(&c, &hal);
    WAIT_UNTIL(lstat(m).ring.samples >= 1);
    CHECK_INT(server_writes(srv, 200), 0);
    CHECK_INT(hal_force_tare(&hal.force), 0);
    WAIT_UNTIL(lstat(m).ring.tares == 1);
    CHECK_INT(server_reg(srv, 200), 0x5A5A);
    CHECK_INT(server_writes(srv, 200), 1);
    CHECK_INT(lstat(m).ring.tares, 1);
    CHECK(!lstat(m).ring.tare_pending);
    CHECK_NEAR(lstat(m).ring.cal.offset, 0, 0);   /* the transmitter reports net counts now */
    CHECK_INT(lstat(m).ring.saved_apart, 1);      /* by the ring's saver, not the bus thread */
    CHECK_INT(calibration_load(path, &back, err, sizeof err), 0);
    CHECK_NEAR(back.offset, 0, 0);
    /* The span on top: 10 kg reads 5000 net counts. */
    server_set_reg(srv, LC_REG + 1, 5000);
    WAIT_UNTIL(lstat(m).ring.raw == 5000);
    CHECK_INT(hal_force_span(&hal.force, 10.0, false), 0);
    WAIT_UNTIL(cal_status(&hal).spans == 1);
    CHECK_INT(cal_status(&hal).spans, 1);
    CHECK_NEAR(cal_status(&hal).scale, 10.0 * CALIBRATION_G / 5000, 1e-15);
    CHECK_INT(server_writes(srv, 200), 1);        /* the span writes nothing */
    CHECK_INT(lstat(m).ring.saved_apart, 2);
    CHECK_INT(calibration_load(path, &back, err, sizeof err), 0);
    CHECK_NEAR(back.scale, 10.0 * CALIBRATION_G / 5000, 1e-15);
    hal_modbus_close(m);
    server_stop(srv);
    unlink(path);
    rmdir(dir);
}

TEST(loadcell_software_tare)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;

    cfg_loadcell(&c, srv, CFG_DT_INT16, CFG_WORDS_BIG);
    c.loadcell.scale = 0.5;
    server_set_reg(srv, LC_REG, 500);
    struct hal_modbus *m = open_or_fail(&c, &hal);
    WAIT_UNTIL(lstat(m).ring.samples >= 1);
    double t = -1.0, n = NAN;
    latest_force(&hal, &t, &n);
    CHECK_NEAR(n, 250.0, 1e-9);
    CHECK_INT(hal_force_tare(&hal.force), 0);     /* over a second of readings */
    CHECK(lstat(m).ring.tare_pending);
    WAIT_UNTIL(lstat(m).ring.tares == 1);
    CHECK_NEAR(lstat(m).ring.cal.offset, 500, 0);
    CHECK_INT(lstat(m).ring.saved_apart, 1);      /* the bus thread's push did not save */
    server_set_reg(srv, LC_REG, 540);
    WAIT_UNTIL(lstat(m).ring.raw == 540);
    latest_force(&hal, &t, &n);
    CHECK_NEAR(n, 20.0, 1e-9);                /* (540 - 500) x 0.5 */
    hal_modbus_close(m);
    server_stop(srv);
}

/* eccctl calibrate on a transmitter: tare, then a known mass; the result is in newtons at
 * once, saved to loadcell.calibration and taken from there at the next start (over the
 * config's offset and scale). */
TEST(loadcell_span_with_a_known_mass_is_saved_and_loaded_at_start)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;
    struct calibration back = {0, 1, 0};
    char dir[64], path[128], err[256];
    double t = -1.0, n = NAN;

    REQUIRE(cal_dir(dir, sizeof dir, path, sizeof path));
    cfg_loadcell(&c, srv, CFG_DT_INT16, CFG_WORDS_BIG);
    c.loadcell.scale = 1.0;                   /* uncalibrated: 1 N per count */
    c.loadcell.offset = 0.0;
    c.loadcell.rate_hz = 100;
    snprintf(c.loadcell.calibration, sizeof c.loadcell.calibration, "%s", path);
    server_set_reg(srv, LC_REG, 320);         /* the empty plate */
    struct hal_modbus *m = open_or_fail(&c, &hal);
    WAIT_UNTIL(lstat(m).ring.raw == 320);
    CHECK_INT(hal_force_tare(&hal.force), 0);
    WAIT_UNTIL(cal_status(&hal).tares == 1);
    CHECK_NEAR(cal_status(&hal).offset, 320, 0);
    server_set_reg(srv, LC_REG, 320 + 4000);  /* 20 kg on the plate */
    WAIT_UNTIL(lstat(m).ring.raw == 4320);
    CHECK_INT(hal_force_span(&hal.force, 20.0, false), 0);
    CHECK(cal_status(&hal).pending);
    WAIT_UNTIL(cal_status(&hal).spans == 1);
    struct hal_cal_status cs = cal_status(&hal);
    CHECK(!cs.pending);
    CHECK_INT(cs.spans, 1);
    CHECK_INT(cs.last_error, 0);
    CHECK_NEAR(cs.mass_kg, 20.0, 0);
    CHECK_NEAR(cs.scale, 20.0 * CALIBRATION_G / 4000, 1e-15);
    server_set_reg(srv, LC_REG, 320 + 1000);  /* a quarter of it: 5 kg */
    WAIT_UNTIL(lstat(m).ring.raw == 1320);
    latest_force(&hal, &t, &n);
    CHECK_NEAR(n, 5.0 * CALIBRATION_G, 1e-9);
    CHECK_INT(calibration_load(path, &back, err, sizeof err), 0);
    CHECK_NEAR(back.offset, 320, 0);
    CHECK_NEAR(back.scale, 20.0 * CALIBRATION_G / 4000, 1e-15);
    hal_modbus_close(m);

    /* The next start: the file wins over the config's offset 0 and scale 1. */
    m = open_or_fail(&c, &hal);
    CHECK_NEAR(cal_status(&hal).offset, 320, 0);
    CHECK_NEAR(cal_status(&hal).scale, 20.0 * CALIBRATION_G / 4000, 1e-15);
    WAIT_UNTIL(lstat(m).ring.samples >= 2);
    latest_force(&hal, &t, &n);
    CHECK_NEAR(n, 5.0 * CALIBRATION_G, 1e-9);
    hal_modbus_close(m);

    /* A junk file stops the start, naming the key and the file's line. */
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs("offset = 320\nscale = heavy\n", f);
    fclose(f);
    char e2[ERRLEN] = "";
    memset(&hal, 0, sizeof hal);
    CHECK(hal_modbus_open(&c, fake_now, NULL, &hal, e2, sizeof e2) == NULL);
    CHECK_STR_CONTAINS(e2, "[loadcell] calibration: ");
    CHECK_STR_CONTAINS(e2, ":2: ");
    server_stop(srv);
    unlink(path);
    rmdir(dir);
}

/* A float32 transmitter that reports kg: the register is the ring's raw reading in kg, and
 * loadcell.scale its unit in newtons; tare and span work on it as on counts. */
TEST(loadcell_float32_in_kg_tares_and_spans)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;
    double t = -1.0, n = NAN;

    cfg_loadcell(&c, srv, CFG_DT_FLOAT32, CFG_WORDS_BIG);
    c.loadcell.scale = CALIBRATION_G;         /* 1 kg */
    c.loadcell.rate_hz = 100;
    server_set_reg(srv, LC_REG, 0x3E80);      /* 0.25 kg: the empty plate */
    server_set_reg(srv, LC_REG + 1, 0x0000);
    struct hal_modbus *m = open_or_fail(&c, &hal);
    WAIT_UNTIL(lstat(m).ring.raw == 0.25);
    CHECK_INT(hal_force_tare(&hal.force), 0);
    WAIT_UNTIL(cal_status(&hal).tares == 1);
    CHECK_NEAR(cal_status(&hal).offset, 0.25, 0);
    server_set_reg(srv, LC_REG, 0x4120);      /* 10.0 kg: the transmitter 2.5% low */
    WAIT_UNTIL(lstat(m).ring.raw == 10.0);
    CHECK_INT(hal_force_span(&hal.force, 10.0, false), 0);
    WAIT_UNTIL(cal_status(&hal).spans == 1 || cal_status(&hal).last_error != 0);
    CHECK_INT(cal_status(&hal).spans, 1);
    CHECK_INT(cal_status(&hal).last_error, 0);
    CHECK_NEAR(cal_status(&hal).scale, 10.0 * CALIBRATION_G / 9.75, 1e-12);
    server_set_reg(srv, LC_REG, 0x40A8);      /* 5.25 kg */
    WAIT_UNTIL(lstat(m).ring.raw == 5.25);
    latest_force(&hal, &t, &n);
    CHECK_NEAR(n, 5.0 / 9.75 * 10.0 * CALIBRATION_G, 1e-9);
    hal_modbus_close(m);
    server_stop(srv);
}

/* ---- one load-cell path ------------------------------------------------------------ */

/* f is bound to a calibration ring the way calibration_ring_hal binds every load cell. */
static void check_bound_to_its_ring(const struct hal_force *f)
{
    struct hal_force ref = {0};

    REQUIRE(f->ctx != NULL);
    calibration_ring_hal(f->ctx, &ref);
    CHECK(f->read == ref.read);
    CHECK(f->tare == ref.tare);
    CHECK(f->span == ref.span);
    CHECK(f->cal_status == ref.cal_status);
}

/* The hardware backend with a Modbus drive on srv, no pulse sensor and no input lines; the
 * load cell is the caller's to set. */
static void cfg_hw(struct ecc_config *c, struct server *srv)
{
    cfg_drive(c, srv, "delta-vfd");
    c->encoder.type = CFG_ENCODER_DRIVE;
    c->inputs.type = CFG_INPUTS_NONE;
    c->loadcell.rate_hz = 100;
}

/* Open c through hal_hw, check that hal->force is its load cell's ring, tare there (the
 * plate reading `zero`) and close. */
static void check_hw_tare(const struct ecc_config *c, double zero, bool has_link)
{
    struct hal hal;
    struct hal_link_stats ls;
    char err[ERRLEN] = "";

    memset(&hal, 0, sizeof hal);
    struct hal_hw *h = hal_hw_open(c, &hal, err, sizeof err);
    if (!h)
        printf("  hal_hw_open: %s\n", err);
    REQUIRE(h != NULL);
    check_bound_to_its_ring(&hal.force);
    CHECK_INT(hal_force_tare(&hal.force), 0);
    WAIT_UNTIL(cal_status(&hal).tares == 1);
    CHECK_INT(cal_status(&hal).tares, 1);
    CHECK_NEAR(cal_status(&hal).offset, zero, 0);
    CHECK_INT(hal_force_link_stats(&hal.force, &ls), has_link ? 0 : -1);
    if (has_link) {                           /* the device's, not the ring's */
        CHECK_STR_CONTAINS(ls.where, "unit 2");
        CHECK_NEAR(ls.last_raw, zero, 0);
    }
    hal_hw_close(h);
}

/* hal_hw opens each front end and binds struct hal_force to its ring: a tare there is the
 * ring's, whatever the front end (the HX711's is in test_hx711: it needs real GPIO here). */
TEST(hal_hw_binds_the_iio_and_modbus_cells_to_their_rings)
{
    struct server *srv = server_start();
    struct ecc_config c;
    char dir[64], raw[128];

    snprintf(dir, sizeof dir, "/tmp/ecc-mbiio-XXXXXX");
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(raw, sizeof raw, "%s/in_voltage0_raw", dir);
    FILE *f = fopen(raw, "w");
    REQUIRE(f != NULL);
    fprintf(f, "%d\n", LOADCELL_IIO_ZERO + 1000);
    fclose(f);

    cfg_hw(&c, srv);                          /* the kernel's IIO driver */
    c.loadcell.type = CFG_LOADCELL_IIO;
    c.loadcell.scale = 0.01;
    snprintf(c.loadcell.iio_device, sizeof c.loadcell.iio_device, "%s", dir);
    check_hw_tare(&c, 1000, false);

    cfg_hw(&c, srv);                          /* a Modbus transmitter on the drive's bus */
    c.loadcell.type = CFG_LOADCELL_MODBUS;
    c.loadcell.link = CFG_LC_LINK_DRIVE;
    c.loadcell.unit_id = 2;
    c.loadcell.reg = LC_REG;
    c.loadcell.data_type = CFG_DT_INT16;
    server_set_reg(srv, LC_REG, 700);
    check_hw_tare(&c, 700, true);
    server_stop(srv);
    unlink(raw);
    rmdir(dir);
}

/* ---- buses ------------------------------------------------------------------------- */

TEST(drive_and_loadcell_share_one_bus)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;

    cfg_drive(&c, srv, "delta-vfd");
    c.loadcell.type = CFG_LOADCELL_MODBUS;
    c.loadcell.link = CFG_LC_LINK_DRIVE;
    c.loadcell.unit_id = 2;
    c.loadcell.reg = LC_REG;
    c.loadcell.data_type = CFG_DT_INT16;
    c.loadcell.scale = 1.0;
    c.loadcell.rate_hz = 100;
    server_set_reg(srv, LC_REG, 42);
    server_set_reg(srv, 0x2103, 1200);
    struct hal_modbus *m = open_or_fail(&c, &hal);
    hal_drive_set_speed(&hal.drive, 0.2);
    WAIT_UNTIL(server_reg(srv, 0x2001) == 1200 && lstat(m).ring.samples >= 5 &&
               dstat(&hal).t_speed > 0);
    CHECK_INT(server_reg(srv, 0x2001), 1200);
    CHECK_NEAR(dstat(&hal).speed_mps, 0.2, 1e-9);
    double t = -1.0, n = NAN;
    CHECK(latest_force(&hal, &t, &n));
    CHECK_NEAR(n, 42.0, 0);
    CHECK_INT(server_connections(srv), 1);    /* one TCP connection for both */
    CHECK(server_unit_requests(srv, 1) > 0);
    CHECK(server_unit_requests(srv, 2) > 0);
    hal_modbus_close(m);
    server_stop(srv);
}

/* A load cell on a unit id nobody answers, on the drive's bus: it is backed off to one
 * attempt a second, the drive keeps being served, and the load cell's link statistics
 * name the link, the unit, the request and what came back. */
TEST(a_silent_unit_is_backed_off_and_named)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;
    struct hal_link_stats ls, ds;

    cfg_drive(&c, srv, "delta-vfd");
    c.drive.retries = 2;
    c.loadcell.type = CFG_LOADCELL_MODBUS;
    c.loadcell.link = CFG_LC_LINK_DRIVE;
    c.loadcell.unit_id = 3;
    c.loadcell.reg = LC_REG;
    c.loadcell.data_type = CFG_DT_INT16;
    c.loadcell.scale = 1.0;
    c.loadcell.rate_hz = 100;
    pthread_mutex_lock(&srv->mu);
    srv->silent_unit = 3;
    pthread_mutex_unlock(&srv->mu);
    struct hal_modbus *m = open_or_fail(&c, &hal);
    hal_drive_set_speed(&hal.drive, 0.2);
    /* Backing off shows as the load cell's failures made with a single try. */
    WAIT_UNTIL(hal_force_link_stats(&hal.force, &ls) == 0 && ls.tx_failed >= 4 &&
               strstr(ls.last_error, "after 1 try"));
    long lc_failed = ls.tx_failed;
    long drive_ok0 = dstat(&hal).tx_ok;
    WAIT_UNTIL(dstat(&hal).tx_ok >= drive_ok0 + 60);
    CHECK(hal_force_link_stats(&hal.force, &ls) == 0);
    CHECK(hal_drive_link_stats(&hal.drive, &ds) == 0);
    printf("  while the drive made %ld good transactions the silent load cell made %ld "
           "attempts\n", ds.tx_ok - drive_ok0, ls.tx_failed - lc_failed);
    CHECK(dstat(&hal).tx_ok >= drive_ok0 + 60);
    CHECK(ls.tx_failed - lc_failed <= 10);          /* 60 drive transactions take < 1 s */
    CHECK(!dstat(&hal).comm_lost);
    CHECK_STR_CONTAINS(ls.where, "tcp 127.0.0.1:");
    CHECK_STR_CONTAINS(ls.where, "unit 3");
    CHECK_STR_CONTAINS(ls.last_error, "read fc 3 at 100 (1 register): no reply (timeout)");
    CHECK(!ls.answering);
    CHECK(ls.timeouts >= 4);
    CHECK_STR_CONTAINS(ds.where, "unit 1");
    CHECK(ds.answering);
    CHECK(isfinite(ds.rtt_ms) && ds.rtt_ms > 0.0);
    hal_modbus_close(m);
    server_stop(srv);
}

/* An exception reply is named by its code and the Modbus name for it. */
TEST(an_exception_is_named_by_code)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;
    struct hal_link_stats ds;

    cfg_drive(&c, srv, "delta-vfd");
    struct hal_modbus *m = open_or_fail(&c, &hal);
    server_set_mode(srv, SRV_EXCEPTION);
    WAIT_UNTIL(hal_drive_link_stats(&hal.drive, &ds) == 0 && ds.exc_by_code[2] >= 3);
    CHECK(ds.exc_by_code[2] >= 3);
    CHECK_STR_CONTAINS(ds.last_error, "exception 02 (illegal data address) after 1 try");
    hal_modbus_close(m);
    server_stop(srv);
}

TEST(drive_and_loadcell_on_separate_links)
{
    struct server *dsrv = server_start(), *lsrv = server_start();
    struct ecc_config c;
    struct hal hal;

    cfg_drive(&c, dsrv, "optidrive-e3");
    c.loadcell.type = CFG_LOADCELL_MODBUS;
    c.loadcell.link = CFG_LC_LINK_TCP;
    snprintf(c.loadcell.host, sizeof c.loadcell.host, "127.0.0.1");
    c.loadcell.port = lsrv->port;
    c.loadcell.unit_id = 1;                   /* the same id is fine on another bus */
    c.loadcell.reg = LC_REG;
    c.loadcell.data_type = CFG_DT_UINT16;
    server_set_reg(lsrv, LC_REG, 321);
    struct hal_modbus *m = open_or_fail(&c, &hal);
    hal_drive_set_speed(&hal.drive, 0.5);
    WAIT_UNTIL(server_reg(dsrv, 1) == 300 && lstat(m).ring.samples >= 3);
    CHECK_INT(server_reg(dsrv, 1), 300);
    double t = -1.0, n = NAN;
    CHECK(latest_force(&hal, &t, &n));
    CHECK_NEAR(n, 321.0, 0);
    CHECK_INT(server_connections(dsrv), 1);
    CHECK_INT(server_connections(lsrv), 1);
    hal_modbus_close(m);
    server_stop(dsrv);
    server_stop(lsrv);
}

/* ---- config errors ----------------------------------------------------------------- */

TEST(config_errors_name_the_key)
{
    struct server *srv = server_start();
    struct ecc_config c;
    struct hal hal;
    char err[ERRLEN];

    cfg_drive(&c, srv, "x");
    CHECK(hal_modbus_open(&c, fake_now, NULL, &hal, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "[drive] profile: unknown profile 'x' (allowed: delta-vfd, "
                            "optidrive-e3, huanyang-gt, huanyang-hy, generic)");

    /* huanyang-hy is not Modbus: without a Modbus load cell there is nothing to open */
    cfg_drive(&c, srv, "huanyang-hy");
    CHECK(hal_modbus_open(&c, fake_now, NULL, &hal, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "[drive] type: the Modbus backend needs");

    cfg_drive(&c, srv, "delta-vfd");
    c.loadcell.type = CFG_LOADCELL_MODBUS;
    c.loadcell.link = CFG_LC_LINK_DRIVE;
    c.loadcell.unit_id = c.drive.unit_id;
    CHECK(hal_modbus_open(&c, fake_now, NULL, &hal, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "[loadcell] unit_id: 1");

    cfg_loadcell(&c, srv, CFG_DT_INT16, CFG_WORDS_BIG);
    c.loadcell.link = CFG_LC_LINK_DRIVE;
    CHECK(hal_modbus_open(&c, fake_now, NULL, &hal, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "[loadcell] link");

    cfg_drive(&c, srv, "delta-vfd");
    c.drive.type = CFG_DRIVE_MODBUS_RTU;
    snprintf(c.drive.device, sizeof c.drive.device, "/nonexistent/ttyUSB9");
    CHECK(hal_modbus_open(&c, fake_now, NULL, &hal, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "[drive] device: /nonexistent/ttyUSB9");

    config_defaults(&c);
    CHECK(hal_modbus_open(&c, fake_now, NULL, &hal, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "[drive] type");
    CHECK_INT(hal_modbus_reset_drive(NULL), -1);
    server_stop(srv);
}

TESTS(T(a_silent_unit_is_backed_off_and_named), T(an_exception_is_named_by_code),
      T(delta_run_stop_and_read_back), T(optidrive_run_read_back_and_coast),
      T(huanyang_percent_setpoint_and_read_back), T(setpoint_written_every_cycle_command_refreshed),
      T(timeouts_counted_then_comm_lost_then_back),
      T(exception_is_a_transaction_error_not_a_link_error), T(bad_frame_counted_and_recovered),
      T(dropped_connection_reconnects_and_is_counted),
      T(healthy_only_after_enough_good_transactions),
      T(drive_trip_reported_with_its_code_and_reset_written), T(stop_written_on_close),
      T(control_calls_return_while_the_wire_is_stuck), T(loadcell_types_and_word_orders),
      T(loadcell_decode_limits), T(loadcell_saturation_flagged),
      T(loadcell_tare_register_written), T(loadcell_software_tare),
      T(loadcell_span_with_a_known_mass_is_saved_and_loaded_at_start),
      T(hal_hw_binds_the_iio_and_modbus_cells_to_their_rings),
      T(loadcell_float32_in_kg_tares_and_spans),
      T(drive_and_loadcell_share_one_bus), T(drive_and_loadcell_on_separate_links),
      T(config_errors_name_the_key));
TEST_MAIN("test_modbus")
