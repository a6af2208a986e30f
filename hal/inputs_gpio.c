/* inputs_gpio.c - e-stop, safety key, buttons and drive enable on GPIO (see inputs_gpio.h). */
#include "hal/inputs_gpio.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/worker.h"

enum { SAFE_ESTOP, SAFE_KEY, N_SAFE };
enum { BTN_START, BTN_STOP, BTN_NEXT, N_BTN };

static const unsigned btn_bit[N_BTN] = {HAL_BTN_START, HAL_BTN_STOP, HAL_BTN_NEXT};
static const char *const safe_name[N_SAFE] = {"e-stop", "safety key"};
static const char *const btn_name[N_BTN] = {"start", "stop", "next"};

struct safety_in {
    struct gpio_line *line;          /* NULL: not wired */
    bool stopped;
    double ok_since;                 /* s, HAL clock, since when it reads ok (-1: it does not) */
};

struct button_in {
    struct gpio_line *line;          /* NULL: not wired */
    bool raw;                        /* down at the latest sample */
    bool down;                       /* debounced */
    double since;                    /* s, when raw last changed */
};

struct inputs_gpio {
    const struct gpio_backend *gpio;
    struct gpio_chip *chip;
    double (*now)(void *);
    void *clock_ctx;
    int ok_level, active_level;      /* safety ok level; buttons' pressed level */
    double debounce_s;

    /* Control thread only. */
    struct safety_in safe[N_SAFE];
    struct button_in btn[N_BTN];
    long presses[N_BTN], read_errors;

    /* The enable output: shared with the watchdog thread under mu. */
    pthread_mutex_t mu;
    struct gpio_line *enable;        /* NULL: not wired */
    int on_level;                    /* the output's active level */
    bool on;                         /* the output is at its active level */
    bool tripped;
    long trips, set_errors;
    double last_call;                /* s, HAL clock, latest inputs_gpio_enable */
    double deadman_s;                /* s */
    double pump_half_s;              /* s between the charge pump's edges (0: a level) */
    double tick_s;                   /* s, the control period */
    double next_edge;                /* s, HAL clock, the pump's next edge is due */
    int level;                       /* the output's level now (0 or 1) */
    long edges;                      /* the pump's edges made */

    /* The watchdog thread. */
    struct worker w;
    double poll_s;                   /* s of wall time */
};

void inputs_gpio_params_from_config(const struct ecc_config *cfg,
                                    const struct gpio_backend *gpio,
                                    struct inputs_gpio_params *p)
{
    static const enum gpio_bias bias[] = {
        [CFG_BIAS_AS_IS] = GPIO_BIAS_AS_IS, [CFG_BIAS_PULL_UP] = GPIO_BIAS_PULL_UP,
        [CFG_BIAS_PULL_DOWN] = GPIO_BIAS_PULL_DOWN};

    *p = (struct inputs_gpio_params){
        .gpio = gpio, .chip = cfg->inputs.chip,
        .estop_line = cfg->inputs.estop_line, .key_line = cfg->inputs.key_line,
        .start_line = cfg->inputs.start_line, .stop_line = cfg->inputs.stop_line,
        .next_line = cfg->inputs.next_line, .enable_line = cfg->inputs.enable_line,
        .active_low = cfg->inputs.active_low, .estop_ok_level = cfg->inputs.estop_ok_level,
        .bias = bias[cfg->inputs.bias], .debounce_s = cfg->inputs.debounce_ms * 1e-3,
        .enable_active_high = cfg->inputs.enable_active_high,
        .period_s = 1.0 / cfg->loop.rate_hz,
        .pump_hz = cfg->inputs.enable_mode == CFG_ENABLE_CHARGE_PUMP ? cfg->inputs.pump_hz : 0.0,
    };
}

/* ---- sampling (control thread) ----------------------------------------------------- */

/* A stop at once; ok only after debounce_s of reading ok. Returns "stopped". */
static bool safety_sample(struct inputs_gpio *in, struct safety_in *s, double now)
{
    int level = in->gpio->get(s->line);

    if (level < 0)
        in->read_errors++;
    if (level != in->ok_level) {
        s->stopped = true;
        s->ok_since = -1.0;
        return true;
    }
    if (s->ok_since < 0.0)
        s->ok_since = now;
    if (now - s->ok_since >= in->debounce_s)
        s->stopped = false;
    return s->stopped;
}

/* Returns true on the debounced press edge. */
static bool button_sample(struct inputs_gpio *in, struct button_in *b, double now)
{
    int level = in->gpio->get(b->line);

    if (level < 0)
        in->read_errors++;
    bool raw = level == in->active_level;
    if (raw != b->raw) {
        b->raw = raw;
        b->since = now;
    }
    if (b->raw == b->down || now - b->since < in->debounce_s)
        return false;
    b->down = b->raw;
    return b->down;
}

int inputs_gpio_read(void *ctx, struct hal_input_state *st)
{
    struct inputs_gpio *in = ctx;
    double now = in->now(in->clock_ctx);

    st->estop = false;
    st->pressed = 0;
    for (int i = 0; i < N_SAFE; i++)
        if (in->safe[i].line && safety_sample(in, &in->safe[i], now))
            st->estop = true;
    for (int i = 0; i < N_BTN; i++) {
        if (in->btn[i].line && button_sample(in, &in->btn[i], now)) {
            st->pressed |= btn_bit[i];
            in->presses[i]++;
        }
    }
    return 0;
}

/* ---- the enable output ------------------------------------------------------------- */

/* Under mu: write a level; a failed write is tried again on the next call. */
static int level_set(struct inputs_gpio *in, int level)
{
    if (in->gpio->set(in->enable, level) < 0) {
        in->set_errors++;
        return -1;
    }
    in->level = level;
    return 0;
}

/* Under mu: drive the output (held level; off also stops a charge pump at rest). */
static int enable_set(struct inputs_gpio *in, bool on)
{
    if (on == in->on && (on || in->level == !in->on_level))
        return 0;
    if (level_set(in, on ? in->on_level : !in->on_level) < 0)
        return -1;
    in->on = on;
    return 0;
}

/* Under mu: the charge pump, on a control tick. Wanted: an edge on the tick nearest to half
 * a period after the last edge (a tick up to half a tick early counts: ticks jitter), and
 * late ticks never make a burst to catch up. */
static int pump_step(struct inputs_gpio *in, double now, bool want)
{
    if (!want)
        return enable_set(in, false);
    if (!in->on)
        in->next_edge = now;            /* pumping starts with an edge on this tick */
    in->on = true;
    if (now < in->next_edge - in->tick_s / 2.0)
        return 0;
    in->next_edge = now - in->next_edge < in->pump_half_s ? in->next_edge + in->pump_half_s
                                                          : now + in->pump_half_s;
    if (level_set(in, !in->level) < 0)
        return -1;
    in->edges++;
    return 0;
}

int inputs_gpio_enable(struct inputs_gpio *in, bool healthy)
{
    if (!in->enable)
        return 0;
    double now = in->now(in->clock_ctx);
    pthread_mutex_lock(&in->mu);
    in->last_call = now;
    bool want = healthy && !in->tripped;
    int rc = in->pump_half_s > 0.0 ? pump_step(in, now, want) : enable_set(in, want);
    int e = errno;
    pthread_mutex_unlock(&in->mu);
    errno = e;
    return rc;
}

void inputs_gpio_enable_rearm(struct inputs_gpio *in)
{
    pthread_mutex_lock(&in->mu);
    in->tripped = false;
    pthread_mutex_unlock(&in->mu);
}

int inputs_gpio_watchdog_check(struct inputs_gpio *in)
{
    if (!in->enable)
        return 0;
    double now = in->now(in->clock_ctx);
    pthread_mutex_lock(&in->mu);
    bool late = in->on && now - in->last_call > in->deadman_s;
    if (late) {
        in->tripped = true;
        in->trips++;
        enable_set(in, false);
    }
    pthread_mutex_unlock(&in->mu);
    return late;
}

/* ---- the watchdog thread ----------------------------------------------------------- */

static void *watchdog_thread(void *arg)
{
    struct inputs_gpio *in = arg;

    for (;;) {
        struct timespec due = worker_after(worker_now(), in->poll_s);

        if (!worker_wait(&in->w, &due))
            return NULL;
        inputs_gpio_watchdog_check(in);
    }
}

/* ---- open / close ------------------------------------------------------------------ */

static struct gpio_line *request_in(struct inputs_gpio *in, const struct inputs_gpio_params *p,
                                    int line, const char *what, char *err, size_t errlen)
{
    struct gpio_line *l = in->gpio->request_input(in->chip, (unsigned)line, p->bias,
                                                  GPIO_EDGE_NONE, "eccd-inputs");
    if (!l) {
        int e = errno;
        snprintf(err, errlen, "inputs: %s line %d (%s): %s", p->chip, line, what, strerror(e));
        errno = e;
    }
    return l;
}

static int lines_open(struct inputs_gpio *in, const struct inputs_gpio_params *p, char *err,
                      size_t errlen)
{
    const int safe_line[N_SAFE] = {p->estop_line, p->key_line};
    const int btn_line[N_BTN] = {p->start_line, p->stop_line, p->next_line};

    for (int i = 0; i < N_SAFE; i++)
        if (safe_line[i] >= 0 &&
            !(in->safe[i].line = request_in(in, p, safe_line[i], safe_name[i], err, errlen)))
            return -1;
    for (int i = 0; i < N_BTN; i++)
        if (btn_line[i] >= 0 &&
            !(in->btn[i].line = request_in(in, p, btn_line[i], btn_name[i], err, errlen)))
            return -1;
    if (p->enable_line < 0)
        return 0;
    in->enable = in->gpio->request_output(in->chip, (unsigned)p->enable_line, !in->on_level,
                                          "eccd-enable");
    if (!in->enable) {
        int e = errno;
        snprintf(err, errlen, "inputs: %s line %d (drive enable): %s", p->chip, p->enable_line,
                 strerror(e));
        errno = e;
        return -1;
    }
    return 0;
}

/* The first sample: the levels as they are now (a button held now is not a press). */
static void first_sample(struct inputs_gpio *in)
{
    double now = in->now(in->clock_ctx);

    for (int i = 0; i < N_SAFE; i++)
        if (in->safe[i].line)
            safety_sample(in, &in->safe[i], now);
    for (int i = 0; i < N_BTN; i++) {
        if (!in->btn[i].line)
            continue;
        in->btn[i].raw = in->btn[i].down = in->gpio->get(in->btn[i].line) == in->active_level;
        in->btn[i].since = now;
    }
}

static bool params_ok(const struct inputs_gpio_params *p)
{
    return p->gpio && p->chip && (p->estop_ok_level == 0 || p->estop_ok_level == 1) &&
           p->debounce_s >= 0.0 && isfinite(p->debounce_s) && p->period_s > 0.0 &&
           isfinite(p->period_s) && p->watchdog_poll_s >= 0.0 && p->pump_hz >= 0.0 &&
           p->pump_hz <= 0.5 / p->period_s + 1e-9;
}

static void init_state(struct inputs_gpio *in, const struct inputs_gpio_params *p,
                       double (*now)(void *), void *clock_ctx)
{
    in->gpio = p->gpio;
    in->now = now;
    in->clock_ctx = clock_ctx;
    in->ok_level = p->estop_ok_level;
    in->active_level = p->active_low ? 0 : 1;
    in->debounce_s = p->debounce_s;
    in->on_level = p->enable_active_high ? 1 : 0;
    in->level = !in->on_level;          /* the enable line is requested at rest */
    in->pump_half_s = p->pump_hz > 0.0 ? 0.5 / p->pump_hz : 0.0;
    in->tick_s = p->period_s;
    in->deadman_s = INPUTS_GPIO_DEADMAN_PERIODS * p->period_s;
    in->poll_s = p->watchdog_poll_s > 0.0 ? p->watchdog_poll_s : p->period_s / 2;
    for (int i = 0; i < N_SAFE; i++)
        in->safe[i] = (struct safety_in){.stopped = true, .ok_since = -1.0};
    pthread_mutex_init(&in->mu, NULL);
    worker_init(&in->w);
}

static int open_all(struct inputs_gpio *in, const struct inputs_gpio_params *p, char *err,
                    size_t errlen)
{
    in->chip = in->gpio->chip_open(in->gpio, p->chip);
    if (!in->chip) {
        int e = errno;
        snprintf(err, errlen, "inputs: %s: %s", p->chip, strerror(e));
        errno = e;
        return -1;
    }
    if (lines_open(in, p, err, errlen) < 0)
        return -1;
    if (in->enable && worker_start(&in->w, watchdog_thread, in, 0, 0) < 0) {
        int e = errno;
        snprintf(err, errlen, "inputs: watchdog thread: %s", strerror(e));
        errno = e;
        return -1;
    }
    return 0;
}

struct inputs_gpio *inputs_gpio_open(const struct inputs_gpio_params *p,
                                     double (*now)(void *), void *clock_ctx, char *err,
                                     size_t errlen)
{
    if (!p || !now || !params_ok(p)) {
        snprintf(err, errlen, "inputs: bad parameters");
        errno = EINVAL;
        return NULL;
    }
    struct inputs_gpio *in = calloc(1, sizeof *in);
    if (!in) {
        snprintf(err, errlen, "inputs: out of memory");
        errno = ENOMEM;
        return NULL;
    }
    init_state(in, p, now, clock_ctx);
    if (open_all(in, p, err, errlen) < 0) {
        int e = errno;
        inputs_gpio_close(in);
        errno = e;
        return NULL;
    }
    first_sample(in);
    return in;
}

void inputs_gpio_close(struct inputs_gpio *in)
{
    if (!in)
        return;
    worker_stop(&in->w);
    if (in->enable) {
        in->gpio->set(in->enable, !in->on_level);   /* drop the drive enable first */
        in->gpio->release(in->enable);
    }
    for (int i = 0; i < N_SAFE; i++)
        if (in->safe[i].line)
            in->gpio->release(in->safe[i].line);
    for (int i = 0; i < N_BTN; i++)
        if (in->btn[i].line)
            in->gpio->release(in->btn[i].line);
    if (in->chip)
        in->gpio->chip_close(in->chip);
    worker_fini(&in->w);
    pthread_mutex_destroy(&in->mu);
    free(in);
}

int inputs_gpio_status(struct inputs_gpio *in, struct inputs_gpio_status *st)
{
    memset(st, 0, sizeof *st);
    st->estop_stopped = in->safe[SAFE_ESTOP].line && in->safe[SAFE_ESTOP].stopped;
    st->key_stopped = in->safe[SAFE_KEY].line && in->safe[SAFE_KEY].stopped;
    for (int i = 0; i < N_BTN; i++)
        st->presses[i] = in->presses[i];
    st->read_errors = in->read_errors;
    pthread_mutex_lock(&in->mu);
    st->enabled = in->on;
    st->level = in->level;
    st->pump_edges = in->edges;
    st->deadman_tripped = in->tripped;
    st->deadman_trips = in->trips;
    st->set_errors = in->set_errors;
    pthread_mutex_unlock(&in->mu);
    return 0;
}
