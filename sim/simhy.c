/* simhy.c - eccsim's Huanyang HY drive on the RTU wire (see simhy.h). */
#include "sim/simhy.h"

#include <errno.h>
#include <modbus.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hal/drive_profile.h"
#include "hal/hy_frame.h"
#include "util/log.h"

#define RX_MAX (4 * HY_FRAME_MAX)

/* ---- set-up ------------------------------------------------------------------------ */

static int baud_index(int baud)
{
    static const int bauds[] = {4800, 9600, 19200, 38400};

    for (int i = 0; i < 4; i++)
        if (bauds[i] == baud)
            return i;
    return -1;
}

static int format_of(const struct ecc_config *cfg)
{
    if (cfg->drive.data_bits != 8 || cfg->drive.stop_bits != 1)
        return -1;
    if (cfg->drive.parity == CFG_PARITY_NONE)
        return 3;
    return cfg->drive.parity == CFG_PARITY_EVEN ? 4 : 5;
}

int simhy_open(struct simhy *h, struct simdev *d, int unit, const struct ecc_config *cfg,
               int stop_fd, char *err, size_t errlen)
{
    int sv[2];

    memset(h, 0, sizeof *h);
    h->fd = h->wire_fd = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errlen, "rtu: socketpair: %s", strerror(errno));
        return -1;
    }
    h->fd = sv[0];
    h->wire_fd = sv[1];
    h->dev = d;
    h->unit = unit;
    h->pd_max_hz = (uint16_t)(cfg->drive.max_hz * HY_HZ_SCALE + 0.5);
    h->pd_baud = baud_index(cfg->drive.baud);
    h->pd_format = format_of(cfg);
    h->stop_fd = stop_fd;
    return 0;
}

void simhy_close(struct simhy *h)
{
    if (h->fd >= 0)
        close(h->fd);
    if (h->wire_fd >= 0)
        close(h->wire_fd);
    h->fd = h->wire_fd = -1;
}

/* ---- answers ----------------------------------------------------------------------- */

/* The control status byte from the simulated drive's state. */
static uint8_t control_status(const struct simvfd *v)
{
    return (uint8_t)((v->running ? HY_ST_RUN : 0) |
                     ((simvfd_status(v) & SIMVFD_ST_RUNNING) ? HY_ST_RUNNING : 0));
}

/* One register of the drive model at a pseudo address: 0 or a Modbus exception code. */
static int model(struct simhy *h, int fc, int addr, uint16_t *value, double t)
{
    struct simdev_req r = {.fc = fc, .addr = addr, .count = 1, .hy = true};
    uint16_t out[1] = {0};

    r.vals[0] = *value;
    int exc = simdev_execute(h->dev, h->unit, &r, t, out);
    if (exc == 0 && fc == MODBUS_FC_READ_HOLDING_REGISTERS)
        *value = out[0];
    return exc;
}

static int status_value(struct simhy *h, uint8_t index, uint16_t *value, double t)
{
    *value = 0;
    switch (index) {
    case HY_STATUS_SET_HZ:
        return model(h, MODBUS_FC_READ_HOLDING_REGISTERS, DP_HY_REG(HY_FN_FREQUENCY, 0), value,
                     t);
    case HY_STATUS_OUT_HZ:
    case HY_STATUS_OUT_A:
        return model(h, MODBUS_FC_READ_HOLDING_REGISTERS, DP_HY_REG(HY_FN_STATUS, index), value,
                     t);
    default:
        return index < HY_STATUS_INDEXES ? 0 : MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
    }
}

/* A parameter of a drive set up as docs/drives.md says; *bytes: how the HY sends it. */
static int parameter(const struct simhy *h, uint8_t pd, uint16_t *value, int *bytes)
{
    *bytes = 1;
    switch (pd) {
    case HY_PD_RUN_SOURCE:
    case HY_PD_FREQ_SOURCE: *value = HY_SOURCE_COMM; return 0;
    case HY_PD_ADDRESS: *value = (uint16_t)h->unit; return 0;
    case HY_PD_BAUD: *value = (uint16_t)h->pd_baud; return h->pd_baud < 0;
    case HY_PD_FORMAT: *value = (uint16_t)h->pd_format; return h->pd_format < 0;
    case HY_PD_MAX_HZ: *bytes = 2; *value = h->pd_max_hz; return 0;
    default: return 1;
    }
}

static size_t answer_parameter(struct simhy *h, const struct hy_request *rq, uint8_t *out)
{
    uint16_t value;
    int bytes;

    if (rq->fn == HY_FN_WRITE_PARAM)
        return hy_encode_refusal(rq->addr, rq->fn, MODBUS_EXCEPTION_ILLEGAL_FUNCTION, out);
    if (parameter(h, rq->index, &value, &bytes) != 0)
        return hy_encode_refusal(rq->addr, rq->fn, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS, out);
    if (bytes == 2)
        return hy_encode_reply(rq, value, out);
    const uint8_t d[2] = {rq->index, (uint8_t)value};
    return hy_encode(rq->addr, rq->fn, d, 2, out);
}

/* Execute rq on the drive (the lock held) and build the reply. */
static size_t execute(struct simhy *h, const struct hy_request *rq, double t, uint8_t *out)
{
    uint16_t value = rq->value;
    int exc = 0;

    switch (rq->fn) {
    case HY_FN_CONTROL:
        exc = model(h, MODBUS_FC_WRITE_SINGLE_REGISTER, DP_HY_REG(HY_FN_CONTROL, 0), &value, t);
        value = control_status(&h->dev->vfd);
        break;
    case HY_FN_FREQUENCY:
        exc = model(h, MODBUS_FC_WRITE_SINGLE_REGISTER, DP_HY_REG(HY_FN_FREQUENCY, 0), &value, t);
        value = rq->value;
        break;
    case HY_FN_STATUS:
        exc = status_value(h, rq->index, &value, t);
        break;
    default:
        return answer_parameter(h, rq, out);
    }
    if (exc)
        return hy_encode_refusal(rq->addr, rq->fn, (uint8_t)exc, out);
    return hy_encode_reply(rq, value, out);
}

/* The answer under the fault in force (the lock held): its length, 0 for none. */
static size_t answer_as(struct simhy *h, enum simdev_action act, const struct hy_request *rq,
                        double t, uint8_t *out)
{
    if (act == SIMDEV_SILENT)
        return 0;
    h->dev->answered++;
    if (act == SIMDEV_EXCEPTION)
        return hy_encode_refusal(rq->addr, rq->fn, MODBUS_EXCEPTION_SLAVE_OR_SERVER_FAILURE, out);
    return execute(h, rq, t, out);
}

size_t simhy_answer(struct simhy *h, const uint8_t *q, size_t n, uint8_t *out, bool *late)
{
    struct simdev *d = h->dev;
    struct hy_request rq;

    *late = false;
    if (hy_parse_request(q, n, &rq) != HY_OK || rq.addr != h->unit)
        return 0;                /* a slave ignores what it cannot read, or is not its own */
    pthread_mutex_lock(&d->lock);
    double t = simdev_now(d);
    d->requests++;
    enum simdev_action act = simdev_action(d, h->unit, t);
    size_t len = answer_as(h, act, &rq, t, out);
    pthread_mutex_unlock(&d->lock);
    log_debug("hy unit %d fn 0x%02x index %u value %u: %s", h->unit, rq.fn, rq.index, rq.value,
              act == SIMDEV_SILENT ? "silent" : len == 5 ? "refused" : "answered");
    *late = act == SIMDEV_LATE;
    return len;
}

/* ---- the thread -------------------------------------------------------------------- */

/* Wait s seconds unless eccsim stops first (then false). */
static bool wait_unless_stopping(int stop_fd, double s)
{
    struct pollfd p = {.fd = stop_fd, .events = POLLIN};

    return poll(&p, 1, (int)(s * 1e3 + 0.5)) == 0;
}

/* Answer every whole frame at the front of rx; drop what can never be one. */
static void serve_frames(struct simhy *h, uint8_t *rx, size_t *n)
{
    for (;;) {
        int len = hy_frame_length(rx, *n);
        if (len < 0)
            len = (int)*n;       /* garbage: the wire resyncs on silence; drop it here */
        if (len == 0 || (size_t)len > *n)
            return;
        uint8_t out[HY_FRAME_MAX];
        bool late;
        size_t m = simhy_answer(h, rx, (size_t)len, out, &late);
        if (m > 0 && (!late || wait_unless_stopping(h->stop_fd, h->dev->late_s)) &&
            write(h->fd, out, m) < 0)
            log_debug("hy: reply: %s", strerror(errno));
        memmove(rx, rx + len, *n - (size_t)len);
        *n -= (size_t)len;
    }
}

void *simhy_thread(void *arg)
{
    struct simhy *h = arg;
    struct pollfd fds[2] = {{.fd = h->stop_fd, .events = POLLIN},
                            {.fd = h->fd, .events = POLLIN}};
    uint8_t rx[RX_MAX];
    size_t n = 0;

    for (;;) {
        int rc = poll(fds, 2, -1);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0 || fds[0].revents || (fds[1].revents & (POLLHUP | POLLERR)))
            break;
        if (!(fds[1].revents & POLLIN))
            continue;
        ssize_t r = read(h->fd, rx + n, sizeof rx - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        serve_frames(h, rx, &n);
        if (n == sizeof rx)
            n = 0;               /* nothing framed in a whole buffer */
    }
    return NULL;
}
