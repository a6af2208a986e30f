/* probe.c - eccd --probe (see probe.h). */
#include "daemon/probe.h"

#include <math.h>
#include <string.h>

#include "controller/ctl.h"
#include "controller/event.h"
#include "daemon/loop.h"
#include "daemon/envcheck.h"
#include "hal/hal_hw.h"

/* The link a part talks over: answering or not, its counts and round trip. */
static void probe_link(struct hal_probe *p, const char *part, int rc,
                       const struct hal_link_stats *ls)
{
    char rtt[48] = "";

    if (rc != 0)
        return;
    if (isfinite(ls->rtt_ms))
        snprintf(rtt, sizeof rtt, ", round trip %.1f ms (max %.1f)", ls->rtt_ms, ls->rtt_max_ms);
    if (ls->answering)
        hal_probe_add(p, part, "link", ls->where, "answering: %ld ok, %ld failed%s", ls->tx_ok,
                      ls->tx_failed, rtt);
    else
        hal_probe_add(p, part, "link", ls->where, "NOT ANSWERING: %ld ok, %ld failed; %s",
                      ls->tx_ok, ls->tx_failed, ls->last_error[0] ? ls->last_error
                                                                   : "no transaction yet");
}

static void probe_links(struct hal_probe *p, struct hal *hal)
{
    struct hal_link_stats ls;
    int rc;

    rc = hal_drive_link_stats(&hal->drive, &ls);
    probe_link(p, "drive", rc, &ls);
    rc = hal_force_link_stats(&hal->force, &ls);
    probe_link(p, "load cell", rc, &ls);
}

/* What the controller saw over the window: sample rate, pulses, and the verdict. */
static bool probe_verdict(struct hal_probe *p, const struct ctl *c, struct hal *hal,
                          const struct ecc_config *cfg)
{
    struct ctl_event ev = {.kind = CTL_EV_PREFLIGHT, .preflight = ctl_preflight(c)};
    enum fault f = ctl_fault(c);
    char msg[EVENT_LINE_MAX];

    hal_probe_add(p, "load cell", "sample rate", "", "%.1f samples/s (loadcell.rate_hz = %g)",
                  (double)ctl_force_samples(c) / PROBE_S, cfg->loadcell.rate_hz);
    if (cfg->encoder.type != CFG_ENCODER_DRIVE)
        hal_probe_add(p, "belt sensor", "pulses in the probe", "", "%ld", ctl_pulses(c));
    if (cfg->inputs.type == CFG_INPUTS_NONE)
        hal_probe_add(p, "inputs", "e-stop", "", "not watched (inputs.type = none)");
    if (f != FAULT_NONE) {
        loop_part_cause(hal, loop_fault_part(f), ev.cause, sizeof ev.cause);
        hal_probe_add(p, "rig", "verdict", "", "NOT READY: fault %s%s%s%s", fault_name(f),
                      ev.cause[0] ? " [" : "", ev.cause, ev.cause[0] ? "]" : "");
        return false;
    }
    if (ev.preflight != PREFLIGHT_OK)
        loop_part_cause(hal, preflight_part(ev.preflight), ev.cause, sizeof ev.cause);
    event_preflight_message(&ev, msg, sizeof msg);
    hal_probe_add(p, "rig", "verdict", "", "%s%s", ev.preflight == PREFLIGHT_OK ? "READY: "
                  : "NOT READY: ", msg);
    return ev.preflight == PREFLIGHT_OK;
}

static int wider(int w, const char *s)
{
    int n = (int)strlen(s);
    return n > w ? n : w;
}

static void probe_print(FILE *out, const struct hal_probe *p)
{
    int wp = 4, wi = 4, ww = 5;

    for (int i = 0; i < p->n; i++) {
        wp = wider(wp, p->line[i].part);
        wi = wider(wi, p->line[i].item);
        ww = wider(ww, p->line[i].where);
    }
    fprintf(out, "%-*s  %-*s  %-*s  %s\n", wp, "part", wi, "item", ww, "where", "value");
    /* Grouped by part, parts in the order they first appear, lines in their own order. */
    for (int first = 0; first < p->n; first++) {
        bool seen = false;
        for (int k = 0; k < first && !seen; k++)
            seen = strcmp(p->line[k].part, p->line[first].part) == 0;
        if (seen)
            continue;
        for (int i = first; i < p->n; i++)
            if (strcmp(p->line[i].part, p->line[first].part) == 0)
                fprintf(out, "%-*s  %-*s  %-*s  %s\n", wp, p->line[i].part, wi,
                        p->line[i].item, ww, p->line[i].where[0] ? p->line[i].where : "-",
                        p->line[i].value);
    }
}

int probe_run(const struct ecc_config *cfg, FILE *out)
{
    static struct ctl ctl;      /* large: off the stack */
    static struct hal_probe p;
    const struct loop_opts lo = {.max_time_s = PROBE_S};   /* never presses start */
    struct loop_stats st;
    struct hal hal;
    struct hal_hw *hw;
    enum hal_hw_part part;
    char err[1024];
    bool ready;

    if (cfg->rig.backend != CFG_BACKEND_HW) {
        fprintf(stderr, "eccd: --probe talks to real parts: it needs rig.backend = hw (to "
                "probe a simulated rig, run eccsim and a config like tests/hil/tcp.ini)\n");
        return PROBE_CANNOT_OPEN;
    }
    hw = hal_hw_open_part(cfg, &hal, err, sizeof err, &part);
    if (!hw) {
        envcheck_append_fix(cfg, part, err, sizeof err);
        fprintf(stderr, "eccd: --probe: %s\n", err);
        return PROBE_CANNOT_OPEN;
    }
    fprintf(out, "eccd --probe: %s, %.0f s with the belt commanded to stop\n\n", cfg->path,
            PROBE_S);
    memset(&p, 0, sizeof p);
    ctl_init(&ctl, cfg);
    loop_run(&ctl, &hal, &lo, &st);
    probe_links(&p, &hal);
    hal_hw_probe(hw, cfg, &p);
    ready = probe_verdict(&p, &ctl, &hal, cfg);
    probe_print(out, &p);
    hal_hw_close(hw);
    return ready ? PROBE_READY : PROBE_NOT_READY;
}
