/* modbus_bus.h - one I/O thread per Modbus link, round-robin over the devices on it.
 *
 * A bus owns one link (an RS-485 line or one TCP endpoint such as a gateway) and the
 * thread that does all I/O on it. Devices (a drive, a load cell; different unit ids) are
 * added with a poll function and a period; the thread polls each device when it is due,
 * in turn, so their transactions interleave and never overlap. The link paces the
 * requests themselves (min gap); the thread sleeps (absolute deadline, CLOCK_MONOTONIC)
 * only when no device is due.
 *
 * modbus_bus_stop asks the thread to finish its current transaction, call every device's
 * release function (the drive writes stop), and exit; it then joins.
 * The bus never blocks its callers: the devices' control-side functions only take their
 * own mutexes. A stale reading is the control side's business (timestamps).
 *
 * Ownership: the bus owns the link it is given (closed by modbus_bus_close); it does not
 * own the devices (their creator frees them after modbus_bus_close).
 */
#ifndef ECC_MODBUS_BUS_H
#define ECC_MODBUS_BUS_H

#include "hal/modbus_link.h"

#define MODBUS_BUS_DEVICES_MAX 4
#define MODBUS_BUS_BACKOFF_AFTER 3  /* failed polls in a row before a device is backed off */
#define MODBUS_BUS_BACKOFF_S 1.0    /* s between its polls then (one attempt each) */

/* A device's bus-side functions: one cycle, and the last words before the thread exits
 * (may be NULL). Both return 0 or -1. */
typedef int (*modbus_bus_poll_fn)(void *dev, struct modbus_link *link);

struct modbus_bus;

/* A bus on this link (taken over, even on failure). NULL with errno ENOMEM. */
struct modbus_bus *modbus_bus_open(struct modbus_link *link);

/* Add a device polled every period_s (s, > 0). Before modbus_bus_start only.
 * Returns 0, or -1 with errno ENOSPC (too many) / EINVAL / EBUSY (already started). */
int modbus_bus_add(struct modbus_bus *bus, void *dev, modbus_bus_poll_fn poll,
                   modbus_bus_poll_fn release, double period_s);

/* Start the thread. Returns 0 or -1 with errno (from pthread_create). */
int modbus_bus_start(struct modbus_bus *bus);

/* Release the devices, stop the thread and join it. Safe to call twice or unstarted. */
void modbus_bus_stop(struct modbus_bus *bus);

/* Stop (if needed), close the link, free the bus. NULL is a no-op. */
void modbus_bus_close(struct modbus_bus *bus);

#endif
