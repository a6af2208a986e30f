/* simvfd.c - the simulated VFD's registers (see simvfd.h). */
#include "sim/simvfd.h"

#include <math.h>
#include <modbus.h>
#include <string.h>

#define AT_SPEED_MPS 0.005           /* m/s, "at speed" tolerance */
#define OUTPUT_ON_HZ 0.05            /* Hz, below this the output counts as off */
#define TIME_EPS 1e-9                /* s, so a watchdog due at t fires at t despite rounding */

void simvfd_init(struct simvfd *v, const struct simvfd_params *p)
{
    memset(v, 0, sizeof *v);
    v->p = *p;
}

/* ---- derived values ---------------------------------------------------------------- */

double simvfd_setpoint_mps(const struct simvfd *v)
{
    double hz = drive_profile_setpoint_hz(&v->p.prof, v->setpoint_raw, v->p.max_hz);

    return fmax(0.0, fmin(hz, v->p.max_hz)) / v->p.hz_per_mps;
}

double simvfd_belt_target(const struct simvfd *v)
{
    return v->running && !v->tripped ? simvfd_setpoint_mps(v) : 0.0;
}

double simvfd_out_hz(const struct simvfd *v)
{
    return v->coasting ? 0.0 : v->motor_mps * v->p.hz_per_mps;
}

double simvfd_current_a(const struct simvfd *v)
{
    if (simvfd_out_hz(v) < OUTPUT_ON_HZ)
        return 0.0;
    return SIMVFD_NO_LOAD_A + SIMVFD_A_PER_N * fmax(0.0, v->force_n);
}

unsigned simvfd_status(const struct simvfd *v)
{
    unsigned st = 0;

    if (v->running || simvfd_out_hz(v) >= OUTPUT_ON_HZ)
        st |= SIMVFD_ST_RUNNING;
    if (v->tripped)
        st |= SIMVFD_ST_TRIPPED;
    if (v->running && fabs(v->motor_mps - simvfd_belt_target(v)) < AT_SPEED_MPS)
        st |= SIMVFD_ST_AT_SPEED;
    if (v->comm_loss)
        st |= SIMVFD_ST_COMM_LOSS;
    if (v->running)
        st |= SIMVFD_ST_RUN_CMD;
    return st;
}

/* ---- the register map -------------------------------------------------------------- */

static bool is_reg(int reg, int addr)
{
    return reg != DP_NO_REG && reg == addr;
}

static bool modelled(const struct drive_profile *p, int a)
{
    return is_reg(p->reg_command, a) || is_reg(p->reg_setpoint, a) ||
           is_reg(p->reg_reset, a) || is_reg(p->reg_freq, a) || is_reg(p->reg_current, a) ||
           is_reg(p->reg_status, a) || is_reg(p->reg_fault, a);
}

/* Modelled, or inside a group: a modelled register below and one above, close together. */
static bool readable(const struct drive_profile *p, int a)
{
    int lo = -1, hi = -1;

    if (modelled(p, a))
        return true;
    for (int d = 1; d < SIMVFD_GROUP && (lo < 0 || hi < 0); d++) {
        if (lo < 0 && a - d >= 0 && modelled(p, a - d))
            lo = a - d;
        if (hi < 0 && a + d <= 0xFFFF && modelled(p, a + d))
            hi = a + d;
    }
    return lo >= 0 && hi >= 0 && hi - lo <= SIMVFD_GROUP;
}

static uint16_t clamp_u16(double x)
{
    x = floor(x + 0.5);
    return x <= 0.0 ? 0 : x >= 65535.0 ? 65535 : (uint16_t)x;
}

static uint16_t reg_value(const struct simvfd *v, int a)
{
    const struct drive_profile *p = &v->p.prof;
    unsigned code = v->fault_code > 0xFF ? 0xFF : v->fault_code;

    if (is_reg(p->reg_status, a) && is_reg(p->reg_fault, a))
        return (uint16_t)(code << 8 | (simvfd_status(v) & 0xFF));
    if (is_reg(p->reg_fault, a))
        return (uint16_t)(v->fault_code > 0xFFFF ? 0xFFFF : v->fault_code);
    if (is_reg(p->reg_status, a))
        return (uint16_t)simvfd_status(v);
    if (is_reg(p->reg_freq, a))
        return drive_profile_freq_raw(p, simvfd_out_hz(v));
    if (is_reg(p->reg_current, a))
        return clamp_u16(simvfd_current_a(v) * p->current_scale);
    if (is_reg(p->reg_setpoint, a))
        return v->setpoint_raw;
    if (is_reg(p->reg_command, a))
        return v->command;
    return 0;                        /* the reset register, and unmodelled group members */
}

int simvfd_read(const struct simvfd *v, int addr, int n, uint16_t *out)
{
    for (int i = 0; i < n; i++)
        if (!readable(&v->p.prof, addr + i))
            return MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
    for (int i = 0; i < n; i++)
        out[i] = reg_value(v, addr + i);
    return 0;
}

/* ---- commands ---------------------------------------------------------------------- */

enum action { ACT_NONE, ACT_SETPOINT, ACT_RUN, ACT_STOP, ACT_COAST, ACT_RESET, ACT_BAD };

/* What writing val to a means: the reset value wins where reset shares the command
 * register; a separate reset register also takes 0 (no request). */
static enum action action_of(const struct drive_profile *p, int a, uint16_t val)
{
    if (is_reg(p->reg_setpoint, a))
        return ACT_SETPOINT;
    if (is_reg(p->reg_reset, a) && val == p->cmd_reset)
        return ACT_RESET;
    if (is_reg(p->reg_command, a)) {
        if (val == p->cmd_run)
            return ACT_RUN;
        if (val == p->cmd_stop)
            return ACT_STOP;
        if (val == p->cmd_coast)
            return ACT_COAST;
        return ACT_BAD;
    }
    if (is_reg(p->reg_reset, a))
        return val == 0 ? ACT_NONE : ACT_BAD;
    return ACT_BAD;
}

static void reset(struct simvfd *v, double t)
{
    if (!v->tripped || t < v->trip_hold_until)
        return;
    v->tripped = false;
    v->comm_loss = false;
    v->fault_code = 0;
}

static void apply(struct simvfd *v, double t, int a, uint16_t val)
{
    const struct drive_profile *p = &v->p.prof;

    if (is_reg(p->reg_command, a))
        v->command = val;
    switch (action_of(p, a, val)) {
    case ACT_SETPOINT:
        v->setpoint_raw = val;
        v->t_fed = t;
        break;
    case ACT_RUN:
        if (v->tripped)
            break;                   /* a tripped drive ignores run until reset */
        if (!v->running)
            v->t_fed = t;            /* the watchdog counts from the start */
        v->running = true;
        v->coasting = false;
        break;
    case ACT_STOP:
        v->running = false;
        v->coasting = false;
        break;
    case ACT_COAST:
        v->running = false;
        v->coasting = true;
        break;
    case ACT_RESET:
        reset(v, t);
        if (is_reg(p->reg_command, a) && val == p->cmd_stop) {
            v->running = false;      /* a stop that is also the reset (the HY's) */
            v->coasting = false;
        }
        break;
    case ACT_NONE:
    case ACT_BAD:
        break;
    }
}

static bool writable(const struct drive_profile *p, int a)
{
    return is_reg(p->reg_command, a) || is_reg(p->reg_setpoint, a) || is_reg(p->reg_reset, a);
}

int simvfd_write(struct simvfd *v, double t, int addr, int n, const uint16_t *vals)
{
    for (int i = 0; i < n; i++)
        if (!writable(&v->p.prof, addr + i))
            return MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
    for (int i = 0; i < n; i++)
        if (action_of(&v->p.prof, addr + i, vals[i]) == ACT_BAD)
            return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
    for (int i = 0; i < n; i++)
        apply(v, t, addr + i, vals[i]);
    return 0;
}

/* ---- time and the rig ------------------------------------------------------------- */

void simvfd_trip(struct simvfd *v, unsigned code, double hold_until)
{
    if (v->tripped) {                /* the first fault's code stays on show */
        v->trip_hold_until = fmax(v->trip_hold_until, hold_until);
        return;
    }
    v->tripped = true;
    v->fault_code = code;
    v->running = false;
    v->coasting = v->p.coast_on_fault;
    v->trip_hold_until = hold_until;
}

void simvfd_tick(struct simvfd *v, double t)
{
    if (!v->running || v->tripped || v->p.watchdog_s <= 0.0)
        return;
    if (t - v->t_fed >= v->p.watchdog_s - TIME_EPS) {
        simvfd_trip(v, SIMVFD_CODE_COMM_LOSS, t);
        v->comm_loss = true;
    }
}

void simvfd_set_outputs(struct simvfd *v, double motor_mps, double force_n)
{
    v->motor_mps = motor_mps;
    v->force_n = force_n;
    if (v->coasting && motor_mps <= 0.0 && !v->tripped)
        v->coasting = false;         /* at rest: the output is simply off */
}
