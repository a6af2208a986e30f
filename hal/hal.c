/* hal.c - the checks every backend gets for free (see hal.h). */
#include "hal/hal.h"

#include <errno.h>
#include <math.h>

int hal_drive_set_speed(struct hal_drive *d, double mps)
{
    if (!isfinite(mps) || mps < 0.0 || mps > d->cap_mps) {
        errno = EINVAL;
        return -1;
    }
    if (mps == 0.0)
        return d->stop(d->ctx);
    return d->set_speed(d->ctx, mps);
}

int hal_drive_stop(struct hal_drive *d)
{
    return d->stop(d->ctx);
}
