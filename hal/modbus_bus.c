/* modbus_bus.c - the I/O thread of one Modbus link (see modbus_bus.h). */
#include "hal/modbus_bus.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "util/worker.h"

struct bus_device {
    void *dev;
    modbus_bus_poll_fn poll, release;
    double period_s;             /* s */
    struct timespec due;         /* CLOCK_MONOTONIC, next poll */
    int silent_polls;            /* failed polls in a row that no reply came to */
};

struct modbus_bus {
    struct modbus_link *link;    /* owned */
    struct bus_device devs[MODBUS_BUS_DEVICES_MAX];
    int ndev;
    int next;                    /* round-robin: where the search for a due device starts */

    struct worker w;             /* the I/O thread */
};

/* ---- create / add / destroy -------------------------------------------------------- */

struct modbus_bus *modbus_bus_open(struct modbus_link *link)
{
    struct modbus_bus *bus = calloc(1, sizeof *bus);
    if (!bus) {
        modbus_link_close(link);
        errno = ENOMEM;
        return NULL;
    }
    bus->link = link;
    worker_init(&bus->w);
    return bus;
}

int modbus_bus_add(struct modbus_bus *bus, void *dev, modbus_bus_poll_fn poll,
                   modbus_bus_poll_fn release, double period_s)
{
    if (bus->w.started) {
        errno = EBUSY;
        return -1;
    }
    if (!poll || !(period_s > 0.0)) {
        errno = EINVAL;
        return -1;
    }
    if (bus->ndev == MODBUS_BUS_DEVICES_MAX) {
        errno = ENOSPC;
        return -1;
    }
    bus->devs[bus->ndev++] = (struct bus_device){dev, poll, release, period_s, {0, 0}, 0};
    return 0;
}

void modbus_bus_close(struct modbus_bus *bus)
{
    if (!bus)
        return;
    worker_fini(&bus->w);       /* stops the thread first */
    modbus_link_close(bus->link);
    free(bus);
}

/* ---- the thread -------------------------------------------------------------------- */

/* The first device due at now, searching round-robin from bus->next; -1 if none. */
static int due_device(const struct modbus_bus *bus, const struct timespec *now)
{
    for (int k = 0; k < bus->ndev; k++) {
        int i = (bus->next + k) % bus->ndev;
        if (!worker_before(now, &bus->devs[i].due))
            return i;
    }
    return -1;
}

static struct timespec earliest_due(const struct modbus_bus *bus)
{
    struct timespec t = bus->devs[0].due;
    for (int i = 1; i < bus->ndev; i++)
        if (worker_before(&bus->devs[i].due, &t))
            t = bus->devs[i].due;
    return t;
}

/* On a shared bus a device that keeps failing (a load cell on a unit id nobody answers)
 * would spend timeout x (retries + 1) of the wire on every poll and starve the others (the
 * drive, whose setpoint feeds its watchdog). After MODBUS_BUS_BACKOFF_AFTER failed polls in
 * a row that nothing answered, it is polled once per MODBUS_BUS_BACKOFF_S, one attempt each,
 * until it answers:
 * at most timeout_ms of every MODBUS_BUS_BACKOFF_S is lost to it. */
static bool backing_off(const struct modbus_bus *bus, const struct bus_device *d)
{
    return bus->ndev > 1 && d->silent_polls >= MODBUS_BUS_BACKOFF_AFTER;
}

static void poll_device(struct modbus_bus *bus, int i)
{
    struct bus_device *d = &bus->devs[i];
    bool backoff = backing_off(bus, d);

    long replies = modbus_link_replies(bus->link);

    modbus_link_single_try(bus->link, backoff);
    int rc = d->poll(d->dev, bus->link);
    modbus_link_single_try(bus->link, false);
    /* Only silence backs a device off: one that answers, if only with exceptions, costs
     * no timeouts (and a drive polled once a second would trip its own watchdog). */
    bool silent = rc < 0 && modbus_link_replies(bus->link) == replies;
    d->silent_polls = silent ? d->silent_polls + (d->silent_polls < 1000000) : 0;
    /* Next period from the schedule, not from now (no drift); a device that fell behind
     * (slow link) is polled as soon as its turn comes, without a burst to catch up. */
    struct timespec now = worker_now();
    d->due = worker_after(backing_off(bus, d) ? now : d->due,
                   backing_off(bus, d) ? MODBUS_BUS_BACKOFF_S : d->period_s);
    if (worker_before(&d->due, &now))
        d->due = now;
    bus->next = (i + 1) % bus->ndev;
}

static void release_devices(struct modbus_bus *bus)
{
    for (int i = 0; i < bus->ndev; i++)
        if (bus->devs[i].release)
            bus->devs[i].release(bus->devs[i].dev, bus->link);
}

static void *bus_thread(void *arg)
{
    struct modbus_bus *bus = arg;
    struct timespec start = worker_now();

    for (int i = 0; i < bus->ndev; i++)
        bus->devs[i].due = start;
    while (!worker_stopping(&bus->w)) {
        struct timespec now = worker_now();
        int i = due_device(bus, &now);
        if (i >= 0) {
            poll_device(bus, i);
        } else {
            struct timespec t = earliest_due(bus);
            worker_wait(&bus->w, &t);
        }
    }
    release_devices(bus);
    return NULL;
}

int modbus_bus_start(struct modbus_bus *bus)
{
    if (bus->ndev == 0) {
        errno = EINVAL;
        return -1;
    }
    return worker_start(&bus->w, bus_thread, bus, 0, 0);
}

void modbus_bus_stop(struct modbus_bus *bus)
{
    worker_stop(&bus->w);
}
