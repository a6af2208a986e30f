/* gpio_fake.c - the scripted GPIO backend for tests (see gpio_fake.h). */
#include "tests/gpio_fake.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define HX_POWER_DOWN_S 60e-6        /* s, a PD_SCK high pulse longer than this powers down */

struct fake_line {
    bool requested, is_output, failing;
    int level;
    enum gpio_edge edge;
    enum gpio_bias bias;
    struct gpio_event *q;            /* the "kernel" event queue (GPIO_FAKE_QUEUE_MAX) */
    int q_head, q_count, q_depth;
    long dropped;
    bool report_dropped;
};

struct sched_edge {
    double t;                        /* s, fake clock */
    unsigned line;
    bool rising;
};

struct log_entry {
    double t;
    unsigned line;
    int value;
};

enum hx_phase {
    HX_CONVERTING,                   /* DOUT high: a conversion is running */
    HX_SHIFTING,                     /* DOUT low at first: data ready, pulses 0..24 */
    HX_TRAILING                      /* 25+ pulses: data read, the next conversion running */
};

struct fake_hx711 {
    bool on;
    unsigned sck, dout;
    double conv_period;              /* s */
    int32_t *vals;                   /* values waiting to be converted (a ring) */
    int v_head, v_count, v_cap;
    enum hx_phase phase;
    uint32_t word;                   /* 24-bit output being shifted out */
    int pulses;                      /* PD_SCK pulses since the data became ready */
    double due;                      /* s, when the running conversion completes */
    double rise_t;                   /* s, latest PD_SCK rising edge */
    int stretch_pulse;               /* 0: none */
    double stretch_s;
    struct gpio_fake_hx711_stats st;
};

struct gpio_fake {
    char name[64];
    unsigned nlines;
    struct fake_line *lines;
    pthread_mutex_t mu;              /* guards everything below */
    double now, step;                /* s */
    struct sched_edge *sched;        /* sorted by time; equal times keep their order */
    int n_sched, cap_sched;
    struct log_entry log[GPIO_FAKE_LOG_MAX];
    int log_head, log_count;
    struct fake_hx711 hx;
    struct gpio_fake *next;          /* registry of live chips */
};

struct gpio_chip {
    struct gpio_fake *f;
};

struct gpio_line {
    struct gpio_fake *f;
    unsigned offset;
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct gpio_fake *registry;

static void hx_update(struct gpio_fake *f);

/* ---- lines and events (all under f->mu) --------------------------------------------- */

static bool edge_wanted(const struct fake_line *l, bool rising)
{
    if (!l->requested || l->is_output)
        return false;
    return l->edge == GPIO_EDGE_BOTH || (rising ? l->edge == GPIO_EDGE_RISING
                                                : l->edge == GPIO_EDGE_FALLING);
}

static void queue_event(struct fake_line *l, double t, bool rising)
{
    if (!l->q)
        l->q = calloc(GPIO_FAKE_QUEUE_MAX, sizeof *l->q);
    if (!l->q || l->q_count >= l->q_depth) {
        l->dropped++;                /* like the v1 kernel fifo: the newest is lost */
        return;
    }
    l->q[(l->q_head + l->q_count) % GPIO_FAKE_QUEUE_MAX] = (struct gpio_event){t, rising};
    l->q_count++;
}

/* The level of a line the world drives (an input) changes at time t. */
static void drive_level(struct gpio_fake *f, unsigned line, int level, double t)
{
    struct fake_line *l = &f->lines[line];

    if (l->level == level)
        return;
    l->level = level;
    if (edge_wanted(l, level != 0))
        queue_event(l, t, level != 0);
}

static void log_output(struct gpio_fake *f, unsigned line, int value)
{
    int i = (f->log_head + f->log_count) % GPIO_FAKE_LOG_MAX;

    f->log[i] = (struct log_entry){f->now, line, value};
    if (f->log_count < GPIO_FAKE_LOG_MAX)
        f->log_count++;
    else
        f->log_head = (f->log_head + 1) % GPIO_FAKE_LOG_MAX;
}

/* ---- the clock (under f->mu) -------------------------------------------------------- */

static void pop_sched(struct gpio_fake *f, struct sched_edge *e)
{
    *e = f->sched[0];
    f->n_sched--;
    memmove(f->sched, f->sched + 1, (size_t)f->n_sched * sizeof *f->sched);
}

/* Move the clock to t, delivering scheduled edges on the way in time order. */
static void clock_set(struct gpio_fake *f, double t)
{
    struct sched_edge e;

    while (f->n_sched > 0 && f->sched[0].t <= t) {
        pop_sched(f, &e);
        if (e.t > f->now)
            f->now = e.t;
        hx_update(f);
        drive_level(f, e.line, e.rising ? 1 : 0, e.t);
    }
    if (t > f->now)
        f->now = t;
    hx_update(f);
}

static int sched_insert(struct gpio_fake *f, unsigned line, double t, bool rising)
{
    if (f->n_sched == f->cap_sched) {
        int cap = f->cap_sched ? 2 * f->cap_sched : 64;
        struct sched_edge *s = realloc(f->sched, (size_t)cap * sizeof *s);
        if (!s)
            return -1;
        f->sched = s;
        f->cap_sched = cap;
    }
    int i = f->n_sched;
    while (i > 0 && f->sched[i - 1].t > t)      /* stable: after equal times */
        i--;
    memmove(f->sched + i + 1, f->sched + i, (size_t)(f->n_sched - i) * sizeof *f->sched);
    f->sched[i] = (struct sched_edge){t, line, rising};
    f->n_sched++;
    return 0;
}

/* ---- the HX711 model (under f->mu) -------------------------------------------------- */

static uint32_t hx_output(int32_t value, int gain)
{
    long long v = (long long)value * gain / 128;
    if (v > 0x7FFFFF)
        v = 0x7FFFFF;
    if (v < -0x800000)
        v = -0x800000;
    return (uint32_t)v & 0xFFFFFFu;
}

/* A running conversion completes once it is due and a value is there to convert. */
static void hx_update(struct gpio_fake *f)
{
    struct fake_hx711 *h = &f->hx;

    if (!h->on || h->phase == HX_SHIFTING || f->now < h->due || h->v_count == 0)
        return;
    h->word = hx_output(h->vals[h->v_head], h->st.next_gain);
    h->v_head = (h->v_head + 1) % h->v_cap;
    h->v_count--;
    h->phase = HX_SHIFTING;
    h->pulses = 0;
    h->st.conversions++;
    h->st.last_gain = h->st.next_gain;
    drive_level(f, h->dout, 0, f->now);
}

static void hx_rise(struct gpio_fake *f)
{
    struct fake_hx711 *h = &f->hx;

    h->rise_t = f->now;
    if (h->phase == HX_CONVERTING)
        return;                      /* no data: the pulse only counts for its length */
    h->pulses++;
    if (h->phase == HX_SHIFTING && h->pulses <= 24) {
        drive_level(f, h->dout, (int)(h->word >> (24 - h->pulses)) & 1, f->now);
        return;
    }
    if (h->pulses == 25) {           /* data read: DOUT high, next conversion starts */
        h->phase = HX_TRAILING;
        h->st.reads++;
        h->due = f->now + h->conv_period;
        drive_level(f, h->dout, 1, f->now);
    }
    static const int gain_after[] = {128, 32, 64};   /* 25, 26, 27 pulses */
    if (h->pulses >= 25 && h->pulses <= 27)
        h->st.next_gain = gain_after[h->pulses - 25];
}

static void hx_power_down(struct gpio_fake *f)
{
    struct fake_hx711 *h = &f->hx;

    if (h->phase == HX_SHIFTING)
        h->st.lost++;                /* the conversion ready or half read is gone */
    h->st.power_downs++;
    h->phase = HX_CONVERTING;
    h->st.next_gain = 128;
    h->due = f->now + h->conv_period;   /* restarts when PD_SCK falls */
    drive_level(f, h->dout, 1, f->now);
}

static void hx_fall(struct gpio_fake *f)
{
    struct fake_hx711 *h = &f->hx;

    if (h->stretch_pulse > 0 && h->phase != HX_CONVERTING && h->pulses == h->stretch_pulse) {
        f->now += h->stretch_s;      /* the code's next clock reading sees the long pulse */
        h->stretch_pulse = 0;
    }
    if (f->now - h->rise_t > HX_POWER_DOWN_S)
        hx_power_down(f);
}

static void hx_sck(struct gpio_fake *f, int value)
{
    if (value)
        hx_rise(f);
    else
        hx_fall(f);
}

/* ---- backend ------------------------------------------------------------------------ */

static const char *strip_dev(const char *name)
{
    return strncmp(name, "/dev/", 5) == 0 ? name + 5 : name;
}

static struct gpio_chip *fake_chip_open(const struct gpio_backend *b, const char *name)
{
    (void)b;
    if (!name) {
        errno = EINVAL;
        return NULL;
    }
    pthread_mutex_lock(&registry_mu);
    struct gpio_fake *f = registry;
    while (f && strcmp(f->name, strip_dev(name)) != 0)
        f = f->next;
    pthread_mutex_unlock(&registry_mu);
    if (!f) {
        errno = ENOENT;
        return NULL;
    }
    struct gpio_chip *c = malloc(sizeof *c);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    c->f = f;
    return c;
}

static void fake_chip_close(struct gpio_chip *chip)
{
    free(chip);
}

/* Claim a line (EINVAL: no such line; EBUSY: already requested). Under f->mu. */
static struct gpio_line *claim(struct gpio_fake *f, unsigned offset)
{
    if (offset >= f->nlines) {
        errno = EINVAL;
        return NULL;
    }
    if (f->lines[offset].requested) {
        errno = EBUSY;
        return NULL;
    }
    struct gpio_line *l = malloc(sizeof *l);
    if (!l) {
        errno = ENOMEM;
        return NULL;
    }
    *l = (struct gpio_line){f, offset};
    f->lines[offset].requested = true;
    f->lines[offset].q_head = f->lines[offset].q_count = 0;
    f->lines[offset].dropped = 0;
    return l;
}

static struct gpio_line *fake_request_input(struct gpio_chip *chip, unsigned offset,
                                            enum gpio_bias bias, enum gpio_edge edge,
                                            const char *consumer)
{
    struct gpio_fake *f = chip->f;

    (void)consumer;
    pthread_mutex_lock(&f->mu);
    struct gpio_line *l = claim(f, offset);
    if (l) {
        f->lines[offset].is_output = false;
        f->lines[offset].bias = bias;
        f->lines[offset].edge = edge;
    }
    pthread_mutex_unlock(&f->mu);
    return l;
}

static void set_output(struct gpio_fake *f, unsigned offset, int value)
{
    struct fake_line *fl = &f->lines[offset];

    if (fl->level == value)
        return;
    fl->level = value;
    log_output(f, offset, value);
    if (f->hx.on && offset == f->hx.sck)
        hx_sck(f, value);
}

static struct gpio_line *fake_request_output(struct gpio_chip *chip, unsigned offset,
                                             int value, const char *consumer)
{
    struct gpio_fake *f = chip->f;

    (void)consumer;
    pthread_mutex_lock(&f->mu);
    struct gpio_line *l = claim(f, offset);
    if (l) {
        f->lines[offset].is_output = true;
        f->lines[offset].edge = GPIO_EDGE_NONE;
        set_output(f, offset, value ? 1 : 0);
    }
    pthread_mutex_unlock(&f->mu);
    return l;
}

static int fake_get(struct gpio_line *line)
{
    struct gpio_fake *f = line->f;

    pthread_mutex_lock(&f->mu);
    hx_update(f);
    const struct fake_line *fl = &f->lines[line->offset];
    int v = fl->failing ? -1 : fl->level;
    pthread_mutex_unlock(&f->mu);
    if (v < 0)
        errno = EIO;
    return v;
}

static int fake_set(struct gpio_line *line, int value)
{
    struct gpio_fake *f = line->f;
    int rc = 0;

    pthread_mutex_lock(&f->mu);
    if (f->lines[line->offset].failing || !f->lines[line->offset].is_output)
        rc = -1;
    else
        set_output(f, line->offset, value ? 1 : 0);
    pthread_mutex_unlock(&f->mu);
    if (rc)
        errno = EIO;
    return rc;
}

static int fake_read_events(struct gpio_line *line, struct gpio_event *ev, int max)
{
    struct gpio_fake *f = line->f;
    int n = 0;

    pthread_mutex_lock(&f->mu);
    struct fake_line *fl = &f->lines[line->offset];
    if (fl->failing || fl->is_output || fl->edge == GPIO_EDGE_NONE) {
        int e = fl->failing ? EIO : EINVAL;   /* EINVAL: no edge detection asked for */
        pthread_mutex_unlock(&f->mu);
        errno = e;
        return -1;
    }
    while (n < max && fl->q_count > 0) {
        ev[n++] = fl->q[fl->q_head];
        fl->q_head = (fl->q_head + 1) % GPIO_FAKE_QUEUE_MAX;
        fl->q_count--;
    }
    pthread_mutex_unlock(&f->mu);
    return n;
}

static long fake_dropped(const struct gpio_line *line)
{
    struct gpio_fake *f = line->f;

    pthread_mutex_lock(&f->mu);
    const struct fake_line *fl = &f->lines[line->offset];
    long n = fl->report_dropped ? fl->dropped : 0;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static int fake_fd(const struct gpio_line *line)
{
    (void)line;
    return -1;                       /* not pollable: callers read without blocking */
}

static void fake_release(struct gpio_line *line)
{
    struct gpio_fake *f;

    if (!line)
        return;
    f = line->f;
    pthread_mutex_lock(&f->mu);
    f->lines[line->offset].requested = false;   /* an output keeps its last value */
    f->lines[line->offset].q_count = 0;
    pthread_mutex_unlock(&f->mu);
    free(line);
}

const struct gpio_backend gpio_fake = {
    .name = "fake",
    .chip_open = fake_chip_open,
    .chip_close = fake_chip_close,
    .request_input = fake_request_input,
    .request_output = fake_request_output,
    .get = fake_get,
    .set = fake_set,
    .read_events = fake_read_events,
    .dropped = fake_dropped,
    .fd = fake_fd,
    .release = fake_release,
};

/* ---- create / destroy --------------------------------------------------------------- */

static bool registered(const char *name)
{
    for (struct gpio_fake *f = registry; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            return true;
    return false;
}

struct gpio_fake *gpio_fake_open(const char *name, unsigned nlines)
{
    if (!name || !*name || strlen(name) >= sizeof ((struct gpio_fake *)0)->name || !nlines) {
        errno = EINVAL;
        return NULL;
    }
    struct gpio_fake *f = calloc(1, sizeof *f);
    if (f)
        f->lines = calloc(nlines, sizeof *f->lines);
    if (!f || !f->lines) {
        free(f);
        errno = ENOMEM;
        return NULL;
    }
    strcpy(f->name, name);
    f->nlines = nlines;
    for (unsigned i = 0; i < nlines; i++) {
        f->lines[i].q_depth = GPIO_FAKE_QUEUE_MAX;
        f->lines[i].report_dropped = true;
    }
    pthread_mutex_init(&f->mu, NULL);
    pthread_mutex_lock(&registry_mu);
    bool taken = registered(name);
    if (!taken) {
        f->next = registry;
        registry = f;
    }
    pthread_mutex_unlock(&registry_mu);
    if (taken) {
        pthread_mutex_destroy(&f->mu);
        free(f->lines);
        free(f);
        errno = EEXIST;
        return NULL;
    }
    return f;
}

void gpio_fake_close(struct gpio_fake *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&registry_mu);
    struct gpio_fake **p = &registry;
    while (*p && *p != f)
        p = &(*p)->next;
    if (*p)
        *p = f->next;
    pthread_mutex_unlock(&registry_mu);
    for (unsigned i = 0; i < f->nlines; i++)
        free(f->lines[i].q);
    free(f->lines);
    free(f->sched);
    free(f->hx.vals);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* ---- scripting ---------------------------------------------------------------------- */

double gpio_fake_now(void *ctx)
{
    struct gpio_fake *f = ctx;

    pthread_mutex_lock(&f->mu);
    double t = f->now;
    if (f->step > 0.0)
        clock_set(f, f->now + f->step);
    pthread_mutex_unlock(&f->mu);
    return t;
}

void gpio_fake_advance(struct gpio_fake *f, double t)
{
    pthread_mutex_lock(&f->mu);
    clock_set(f, t);
    pthread_mutex_unlock(&f->mu);
}

void gpio_fake_set_clock_step(struct gpio_fake *f, double step_s)
{
    pthread_mutex_lock(&f->mu);
    f->step = step_s > 0.0 ? step_s : 0.0;
    pthread_mutex_unlock(&f->mu);
}

static int bad_line(const struct gpio_fake *f, unsigned line)
{
    if (line < f->nlines)
        return 0;
    errno = EINVAL;
    return -1;
}

int gpio_fake_edge_at(struct gpio_fake *f, unsigned line, double t, bool rising)
{
    if (bad_line(f, line))
        return -1;
    pthread_mutex_lock(&f->mu);
    int rc = sched_insert(f, line, t, rising);
    if (rc == 0)
        clock_set(f, f->now);        /* delivers it at once if its time has passed */
    pthread_mutex_unlock(&f->mu);
    if (rc)
        errno = ENOMEM;
    return rc;
}

int gpio_fake_pulses(struct gpio_fake *f, unsigned line, double t0, double period_s,
                     double high_s, int n)
{
    for (int k = 0; k < n; k++) {
        double t = t0 + k * period_s;
        if (gpio_fake_edge_at(f, line, t, true) || gpio_fake_edge_at(f, line, t + high_s, false))
            return -1;
    }
    return 0;
}

int gpio_fake_set_level(struct gpio_fake *f, unsigned line, int level)
{
    if (bad_line(f, line))
        return -1;
    pthread_mutex_lock(&f->mu);
    drive_level(f, line, level ? 1 : 0, f->now);
    pthread_mutex_unlock(&f->mu);
    return 0;
}

int gpio_fake_float(struct gpio_fake *f, unsigned line)
{
    if (bad_line(f, line))
        return -1;
    pthread_mutex_lock(&f->mu);
    enum gpio_bias b = f->lines[line].bias;
    if (b != GPIO_BIAS_AS_IS)
        drive_level(f, line, b == GPIO_BIAS_PULL_UP, f->now);
    pthread_mutex_unlock(&f->mu);
    return 0;
}

int gpio_fake_set_queue_depth(struct gpio_fake *f, unsigned line, int depth,
                              bool report_dropped)
{
    if (bad_line(f, line))
        return -1;
    if (depth < 1 || depth > GPIO_FAKE_QUEUE_MAX) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->mu);
    f->lines[line].q_depth = depth;
    f->lines[line].report_dropped = report_dropped;
    pthread_mutex_unlock(&f->mu);
    return 0;
}

int gpio_fake_fail(struct gpio_fake *f, unsigned line, bool fail)
{
    if (bad_line(f, line))
        return -1;
    pthread_mutex_lock(&f->mu);
    f->lines[line].failing = fail;
    pthread_mutex_unlock(&f->mu);
    return 0;
}

int gpio_fake_output(struct gpio_fake *f, unsigned line)
{
    if (bad_line(f, line))
        return -1;
    pthread_mutex_lock(&f->mu);
    int v = f->lines[line].level;
    pthread_mutex_unlock(&f->mu);
    return v;
}

int gpio_fake_output_log(struct gpio_fake *f, unsigned line, struct gpio_fake_change *out,
                         int max)
{
    int n = 0;

    if (bad_line(f, line))
        return -1;
    pthread_mutex_lock(&f->mu);
    for (int k = 0; k < f->log_count && n < max; k++) {
        const struct log_entry *e = &f->log[(f->log_head + k) % GPIO_FAKE_LOG_MAX];
        if (e->line == line)
            out[n++] = (struct gpio_fake_change){e->t, e->value};
    }
    pthread_mutex_unlock(&f->mu);
    return n;
}

bool gpio_fake_requested(struct gpio_fake *f, unsigned line)
{
    if (line >= f->nlines)
        return false;
    pthread_mutex_lock(&f->mu);
    bool r = f->lines[line].requested;
    pthread_mutex_unlock(&f->mu);
    return r;
}

enum gpio_bias gpio_fake_bias(struct gpio_fake *f, unsigned line)
{
    if (line >= f->nlines)
        return GPIO_BIAS_AS_IS;
    pthread_mutex_lock(&f->mu);
    enum gpio_bias b = f->lines[line].bias;
    pthread_mutex_unlock(&f->mu);
    return b;
}

/* ---- HX711 scripting ---------------------------------------------------------------- */

int gpio_fake_hx711_attach(struct gpio_fake *f, unsigned sck, unsigned dout,
                           double conv_period_s)
{
    if (bad_line(f, sck) || bad_line(f, dout))
        return -1;
    if (sck == dout || !(conv_period_s > 0.0)) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->mu);
    struct fake_hx711 *h = &f->hx;
    *h = (struct fake_hx711){.on = true, .sck = sck, .dout = dout,
                             .conv_period = conv_period_s, .vals = h->vals, .v_cap = h->v_cap,
                             .phase = HX_CONVERTING, .due = f->now + conv_period_s};
    h->st.next_gain = h->st.last_gain = 128;
    drive_level(f, dout, 1, f->now);
    pthread_mutex_unlock(&f->mu);
    return 0;
}

/* Room for n more values (under f->mu). */
static int hx_reserve(struct fake_hx711 *h, int n)
{
    if (h->v_count + n <= h->v_cap)
        return 0;
    int cap = h->v_cap ? h->v_cap : 64;
    while (cap < h->v_count + n)
        cap *= 2;
    int32_t *v = malloc((size_t)cap * sizeof *v);
    if (!v)
        return -1;
    for (int i = 0; i < h->v_count; i++)     /* unroll the ring into the new array */
        v[i] = h->vals[(h->v_head + i) % h->v_cap];
    free(h->vals);
    h->vals = v;
    h->v_head = 0;
    h->v_cap = cap;
    return 0;
}

int gpio_fake_hx711_push(struct gpio_fake *f, const int32_t *values, int n)
{
    if (n < 0 || (n > 0 && !values)) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->mu);
    struct fake_hx711 *h = &f->hx;
    int rc = hx_reserve(h, n);
    for (int i = 0; rc == 0 && i < n; i++) {
        h->vals[(h->v_head + h->v_count) % h->v_cap] = values[i];
        h->v_count++;
    }
    if (rc == 0)
        hx_update(f);
    pthread_mutex_unlock(&f->mu);
    if (rc)
        errno = ENOMEM;
    return rc;
}

int gpio_fake_hx711_stretch(struct gpio_fake *f, int pulse, double high_s)
{
    if (pulse < 1 || pulse > 27 || !(high_s >= 0.0)) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->mu);
    f->hx.stretch_pulse = pulse;
    f->hx.stretch_s = high_s;
    pthread_mutex_unlock(&f->mu);
    return 0;
}

int gpio_fake_hx711_pending(struct gpio_fake *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->hx.v_count;
    pthread_mutex_unlock(&f->mu);
    return n;
}

void gpio_fake_hx711_stats(struct gpio_fake *f, struct gpio_fake_hx711_stats *st)
{
    pthread_mutex_lock(&f->mu);
    *st = f->hx.st;
    pthread_mutex_unlock(&f->mu);
}
