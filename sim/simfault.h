/* simfault.h - eccsim's scripted faults: what goes wrong, when, and for how long.
 *
 * A fault is written KIND@T[:DURATION] (seconds after eccsim started; without a
 * duration it lasts to the end), e.g. "drive-silent@5:2" or "lc-freeze@12".
 * Pure bookkeeping on times passed in: nothing here reads a clock or does I/O.
 *
 * Kinds and what they do (the servers and the rig loop apply them):
 *   drive-silent     the drive does not answer (nor hear: its watchdog starves)
 *   drive-late       the drive answers 3 x drive.timeout_ms late
 *   drive-exception  the drive answers every request with exception 0x04
 *   drive-corrupt    RTU: replies with a bad CRC; TCP: replies with a wrong transaction id
 *   drive-trip       the drive trips (fault code eccsim.trip_code) at T; the cause lasts
 *                    DURATION (resets written before it ends are refused), then a reset clears it
 *   lc-silent        the load-cell transmitter does not answer
 *   lc-freeze        the load-cell reading stops changing
 *   lc-saturate      the load-cell reading goes to the top of its type's range
 */
#ifndef ECC_SIMFAULT_H
#define ECC_SIMFAULT_H

#include <stdbool.h>
#include <stddef.h>

enum simfault_kind {
    SIMFAULT_DRIVE_SILENT = 0,
    SIMFAULT_DRIVE_LATE,
    SIMFAULT_DRIVE_EXCEPTION,
    SIMFAULT_DRIVE_CORRUPT,
    SIMFAULT_DRIVE_TRIP,
    SIMFAULT_LC_SILENT,
    SIMFAULT_LC_FREEZE,
    SIMFAULT_LC_SATURATE,
    SIMFAULT_KINDS
};

#define SIMFAULT_MAX 32

struct simfault {
    enum simfault_kind kind;
    double t_start;              /* s after start */
    double duration;             /* s; < 0: to the end */
    bool started, ended;         /* edges already reported by simfault_edges() */
};

struct simfault_plan {
    struct simfault f[SIMFAULT_MAX];
    int n;
};

const char *simfault_name(enum simfault_kind k);

/* Parse "KIND@T[:DURATION]" and append it. Returns 0, or -1 with a message in err. */
int simfault_add(struct simfault_plan *p, const char *spec, char *err, size_t errlen);

/* s, when fault f ends (INFINITY when it lasts to the end). */
double simfault_end(const struct simfault *f);

/* Is a fault of this kind in force at time t (t_start <= t < end)? */
bool simfault_active(const struct simfault_plan *p, enum simfault_kind k, double t);

/* Report every start and end due by t that was not reported yet: fn(ctx, fault, is_start,
 * time of the edge). Starts come before the end of the same fault. */
typedef void (*simfault_edge_fn)(void *ctx, const struct simfault *f, bool start, double t);
void simfault_edges(struct simfault_plan *p, double t, simfault_edge_fn fn, void *ctx);

#endif
