/* event.c - controller events as JSON lines and human lines (see event.h). */
#include "controller/event.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

/* Append one character to buf if there is room; always count it. */
static void put(char *buf, size_t len, size_t *n, char c)
{
    if (*n + 1 < len)
        buf[*n] = c;
    (*n)++;
}

int event_json_string(char *buf, size_t len, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;

    put(buf, len, &n, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            put(buf, len, &n, '\\');
            put(buf, len, &n, (char)c);
        } else if (c < 0x20) {
            const char esc[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            for (size_t i = 0; i < sizeof esc; i++)
                put(buf, len, &n, esc[i]);
        } else {
            put(buf, len, &n, (char)c);
        }
    }
    put(buf, len, &n, '"');
    if (len)
        buf[n < len ? n : len - 1] = '\0';
    return (int)n;
}

int event_wall_iso(double wall, char *buf, size_t len)
{
    long long ms;
    time_t sec;
    struct tm tm;

    if (len)
        buf[0] = '\0';
    /* 0 (or less) is "no wall clock"; beyond year 9999 the format would not hold */
    if (!(wall > 0.0 && wall < 253402300800.0))
        return 0;
    ms = llround(wall * 1000.0);    /* rounded once, so .9996 s carries into the second */
    sec = (time_t)(ms / 1000);
    if (!gmtime_r(&sec, &tm))
        return 0;
    return snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                    (int)(ms % 1000));
}

int event_wall_json(double wall, char *buf, size_t len)
{
    char iso[EVENT_WALL_MAX];

    if (event_wall_iso(wall, iso, sizeof iso) <= 0)
        return snprintf(buf, len, "null");
    return snprintf(buf, len, "\"%s\"", iso);
}

const char *event_kind_name(enum ctl_event_kind k)
{
    static const char *const names[] = {"rep", "reject", "set", "session",
                                        "fault", "reset", "command", "session_start",
                                        "set_start", "drive_slow", "preflight",
                                        "progression", "checkin"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "unknown";
}

static int json_stroke(const struct ctl_event *ev, char *buf, size_t len)
{
    const struct rep_figures *f = &ev->fig;

    return snprintf(buf, len,
                    ",\"session\":%d,\"set\":%d,\"rep\":%d,\"stroke\":%d,\"verdict\":\"%s\""
                    ",\"t_start\":%.3f,\"duration_s\":%.3f,\"travel_m\":%.3f,\"peak_n\":%.1f"
                    ",\"mean_n\":%.1f,\"t_lift\":%.3f,\"window_s\":%.3f,\"in_band_s\":%.3f"
                    ",\"in_band_share\":%.3f,\"work_j\":%.1f}",
                    ev->session, ev->set, ev->rep, ev->stroke, rep_verdict_name(f->verdict),
                    f->t_start, f->duration_s, f->travel_m, f->peak_n, f->mean_n, f->t_lift,
                    f->window_s, f->in_band_s, f->in_band_share, f->work_j);
}

static int json_set(const struct ctl_event *ev, char *buf, size_t len)
{
    const struct ctl_set_summary *s = &ev->sum;

    return snprintf(buf, len,
                    ",\"session\":%d,\"set\":%d,\"counted\":%d,\"rejected\":%d"
                    ",\"too_short\":%d,\"too_little_travel\":%d,\"out_of_band\":%d,\"aborted\":%d"
                    ",\"above_band_at_min_speed\":%d,\"below_band_at_max_speed\":%d"
                    ",\"in_band_share\":%.3f,\"duration_s\":%.3f}",
                    ev->session, ev->set, s->counted, s->rejected, s->by_verdict[REP_TOO_SHORT],
                    s->by_verdict[REP_TOO_LITTLE_TRAVEL], s->by_verdict[REP_OUT_OF_BAND],
                    s->by_verdict[REP_ABORTED], s->by_verdict[REP_ABOVE_AT_MIN],
                    s->by_verdict[REP_BELOW_AT_MAX], s->in_band_share, s->duration_s);
}

int event_preflight_message(const struct ctl_event *ev, char *buf, size_t len)
{
    if (ev->preflight == PREFLIGHT_OK)
        return snprintf(buf, len, "pre-flight: ready");
    return snprintf(buf, len, "pre-flight: %s: %s%s%s%s",
                    preflight_part_name(preflight_part(ev->preflight)),
                    preflight_text(ev->preflight), ev->cause[0] ? " [" : "", ev->cause,
                    ev->cause[0] ? "]" : "");
}

/* ,"check":..,"part":..,"value":..,"cause":..,"message":..} */
static int json_preflight(const struct ctl_event *ev, char *buf, size_t len)
{
    char msg[CTL_CAUSE_MAX + 256], cause_js[2 * CTL_CAUSE_MAX + 8], msg_js[sizeof msg * 2 + 8];

    event_preflight_message(ev, msg, sizeof msg);
    event_json_string(cause_js, sizeof cause_js, ev->cause);
    event_json_string(msg_js, sizeof msg_js, msg);
    return snprintf(buf, len, ",\"check\":\"%s\",\"part\":\"%s\",\"value\":%.3f,\"cause\":%s"
                    ",\"message\":%s}", preflight_name(ev->preflight),
                    preflight_part_name(preflight_part(ev->preflight)),
                    isfinite(ev->value) ? ev->value : -1.0, cause_js, msg_js);
}

static int json_fault(const struct ctl_event *ev, char *buf, size_t len)
{
    char cause_js[2 * CTL_CAUSE_MAX + 8];

    event_json_string(cause_js, sizeof cause_js, ev->cause);
    return snprintf(buf, len, ",\"fault\":\"%s\",\"value\":%.3f,\"limit\":%.3f,\"cause\":%s}",
                    fault_name(ev->fault), ev->value, ev->limit, cause_js);
}

static const char *checkin_name(enum ctl_checkin k)
{
    return k == CTL_CHECKIN_PAIN ? "pain" : "morning";
}

static int json_progression(const struct ctl_event *ev, char *buf, size_t len)
{
    char reason_js[2 * CTL_CAUSE_MAX + 8];

    event_json_string(reason_js, sizeof reason_js, ev->cause);
    return snprintf(buf, len, ",\"kind\":\"%s\",\"level_from\":%d,\"level_to\":%d"
                    ",\"band\":[%.1f,%.1f],\"reason\":%s}", prog_kind_name(ev->prog),
                    ev->level_from, ev->level_to, ev->band_low, ev->band_high, reason_js);
}

static int json_body(const struct ctl_event *ev, char *buf, size_t len)
{
    switch (ev->kind) {
    case CTL_EV_REP:
    case CTL_EV_REJECT:
        return json_stroke(ev, buf, len);
    case CTL_EV_SET:
        return json_set(ev, buf, len);
    case CTL_EV_SESSION:
        return snprintf(buf, len, ",\"session\":%d,\"sets\":%d,\"counted\":%d,\"rejected\":%d}",
                        ev->session, ev->sets, ev->sum.counted, ev->sum.rejected);
    case CTL_EV_FAULT:
        return json_fault(ev, buf, len);
    case CTL_EV_PREFLIGHT:
        return json_preflight(ev, buf, len);
    case CTL_EV_RESET:
        return snprintf(buf, len, ",\"fault\":\"%s\"}", fault_name(ev->fault));
    case CTL_EV_COMMAND:
        if (ev->result == CTL_REFUSED_SCHEDULE)
            return snprintf(buf, len, ",\"command\":\"%s\",\"result\":\"%s\",\"rule\":\"%s\""
                            ",\"wait_s\":%.0f}", ctl_cmd_name(ev->cmd),
                            ctl_result_name(ev->result), sched_verdict_name(ev->sched),
                            ev->wait_s);
        if (ev->result == CTL_REFUSED_PREFLIGHT) {
            int n = snprintf(buf, len, ",\"command\":\"%s\",\"result\":\"%s\"",
                             ctl_cmd_name(ev->cmd), ctl_result_name(ev->result));
            return n < 0 || (size_t)n >= len ? n : n + json_preflight(ev, buf + n, len - (size_t)n);
        }
        if (ev->result == CTL_REFUSED_FAULT || ev->result == CTL_REFUSED_CAUSE) {
            int n = snprintf(buf, len, ",\"command\":\"%s\",\"result\":\"%s\"",
                             ctl_cmd_name(ev->cmd), ctl_result_name(ev->result));
            return n < 0 || (size_t)n >= len ? n : n + json_fault(ev, buf + n, len - (size_t)n);
        }
        return snprintf(buf, len, ",\"command\":\"%s\",\"result\":\"%s\"}",
                        ctl_cmd_name(ev->cmd), ctl_result_name(ev->result));
    case CTL_EV_SESSION_START:
        return snprintf(buf, len, ",\"session\":%d,\"patient\":%ld}", ev->session,
                        ev->patient);
    case CTL_EV_DRIVE_SLOW:
        return snprintf(buf, len, ",\"measured_mps2\":%.3f,\"configured_mps2\":%.3f"
                        ",\"key\":\"drive.accel_time_s\"}", ev->value, ev->limit);
    case CTL_EV_SET_START:
        return snprintf(buf, len, ",\"session\":%d,\"set\":%d,\"rep\":%d,\"resumed\":%s}",
                        ev->session, ev->set, ev->rep, ev->resumed ? "true" : "false");
    case CTL_EV_PROGRESSION:
        return json_progression(ev, buf, len);
    case CTL_EV_CHECKIN:
        return snprintf(buf, len, ",\"kind\":\"%s\",\"score\":%.0f}",
                        checkin_name(ev->checkin), ev->value);
    }
    return snprintf(buf, len, "}");
}

int event_json(const struct ctl_event *ev, char *buf, size_t len)
{
    char wall[EVENT_WALL_MAX + 2];
    int n;

    event_wall_json(ev->wall, wall, sizeof wall);
    n = snprintf(buf, len, "{\"event\":\"%s\",\"t\":%.3f,\"wall\":%s",
                 event_kind_name(ev->kind), ev->t, wall);

    if (n < 0 || (size_t)n >= len)
        return n;
    return n + json_body(ev, buf + n, len - (size_t)n);
}

static int text_stroke(const struct ctl_event *ev, char *buf, size_t len)
{
    const struct rep_figures *f = &ev->fig;

    return snprintf(buf, len,
                    "set %d stroke %2d %-17s rep %2d  %.2f s  %.2f m  peak %5.1f N  mean %5.1f N"
                    "  in band %3.0f%%  %.1f J",
                    ev->set, ev->stroke, rep_verdict_name(f->verdict), ev->rep, f->duration_s,
                    f->travel_m, f->peak_n, f->mean_n, 100.0 * f->in_band_share, f->work_j);
}

int event_schedule_reason(enum sched_verdict v, double wait_s, char *buf, size_t len)
{
    long min = (long)ceil(wait_s / 60.0);
    const char *why = v == SCHED_REFUSED_QUOTA ? "the day's sessions are done"
                    : v == SCHED_REFUSED_GAP ? "too soon after the last session"
                    : "allowed";

    return snprintf(buf, len, "%s; a new session is allowed in %ld h %02ld min", why,
                    min / 60, min % 60);
}

static int text_schedule(const struct ctl_event *ev, char *buf, size_t len)
{
    int n = snprintf(buf, len, "command %s: refused, ", ctl_cmd_name(ev->cmd));

    if (n < 0 || (size_t)n >= len)
        return n;
    return n + event_schedule_reason(ev->sched, ev->wait_s, buf + n, len - (size_t)n);
}

int event_text(const struct ctl_event *ev, char *buf, size_t len)
{
    switch (ev->kind) {
    case CTL_EV_REP:
    case CTL_EV_REJECT:
        return text_stroke(ev, buf, len);
    case CTL_EV_SET:
        return snprintf(buf, len, "set %d done: %d counted, %d rejected, %.0f%% in band, %.1f s",
                        ev->set, ev->sum.counted, ev->sum.rejected,
                        100.0 * ev->sum.in_band_share, ev->sum.duration_s);
    case CTL_EV_SESSION:
        return snprintf(buf, len, "session %d done: %d sets, %d reps counted, %d rejected",
                        ev->session, ev->sets, ev->sum.counted, ev->sum.rejected);
    case CTL_EV_FAULT:
        return snprintf(buf, len, "FAULT %s (value %.3f, limit %.3f)%s%s%s: belt stopping; an "
                        "operator reset is needed", fault_name(ev->fault), ev->value, ev->limit,
                        ev->cause[0] ? " [" : "", ev->cause, ev->cause[0] ? "]" : "");
    case CTL_EV_PREFLIGHT:
        return event_preflight_message(ev, buf, len);
    case CTL_EV_RESET:
        return snprintf(buf, len, "fault %s reset by the operator", fault_name(ev->fault));
    case CTL_EV_COMMAND:
        if (ev->result == CTL_REFUSED_SCHEDULE)
            return text_schedule(ev, buf, len);
        if (ev->result == CTL_REFUSED_FAULT || ev->result == CTL_REFUSED_CAUSE)
            return snprintf(buf, len, "command %s: refused, the fault %s is latched%s%s%s%s",
                            ctl_cmd_name(ev->cmd), fault_name(ev->fault),
                            ev->result == CTL_REFUSED_CAUSE ? " and its cause is still there" : "",
                            ev->cause[0] ? " [" : "", ev->cause, ev->cause[0] ? "]" : "");
        if (ev->result == CTL_REFUSED_PREFLIGHT) {
            int n = snprintf(buf, len, "command %s: refused, the belt stays still: ",
                             ctl_cmd_name(ev->cmd));
            return n < 0 || (size_t)n >= len
                       ? n : n + event_preflight_message(ev, buf + n, len - (size_t)n);
        }
        return snprintf(buf, len, "command %s: %s", ctl_cmd_name(ev->cmd),
                        ctl_result_name(ev->result));
    case CTL_EV_SESSION_START:
        return snprintf(buf, len, "session %d begins (patient %ld)", ev->session, ev->patient);
    case CTL_EV_DRIVE_SLOW:
        return snprintf(buf, len, "the drive ramps at %.3f m/s^2, slower than the %.3f m/s^2 "
                        "drive.accel_time_s gives: raise drive.accel_time_s to match the drive "
                        "(x %.2f); the command now keeps to the measured ramp",
                        ev->value, ev->limit, ev->value > 0.0 ? ev->limit / ev->value : 0.0);
    case CTL_EV_SET_START:
        if (ev->resumed)
            return snprintf(buf, len, "set %d resumed after a restart at rep %d", ev->set,
                            ev->rep);
        return snprintf(buf, len, "set %d begins", ev->set);
    case CTL_EV_PROGRESSION:
        return snprintf(buf, len, "programme %s: level %d -> %d, band %.0f-%.0f N: %s",
                        prog_kind_name(ev->prog), ev->level_from, ev->level_to, ev->band_low,
                        ev->band_high, ev->cause);
    case CTL_EV_CHECKIN:
        return snprintf(buf, len, "%s score %.0f/10", checkin_name(ev->checkin), ev->value);
    }
    return snprintf(buf, len, "event %d", (int)ev->kind);
}
