/* config.c - eccd's configuration: the key table, strict INI loading (inih), cross-field
 * checks and printing. See config.h.
 *
 * Every key is declared once, in keys[] below; everything else (defaults, parsing, range
 * messages, printing) is driven by that table through one set of functions per type
 * (type_ops[]).
 *
 * Line numbers: inih's handler is not told the line (Debian builds it with
 * INI_HANDLER_LINENO=0), so the file is read into memory and fed to ini_parse_stream()
 * through read_line(), which hands inih exactly one physical line per call and counts
 * them. The handler runs before the next line is read, so the count is the key's line.
 * read_line() also strips leading blanks (which turns off inih's multi-line continuation,
 * a source of silent surprises), checks [section] headers (inih never reports a section
 * without keys) and refuses lines longer than inih's line buffer instead of letting inih
 * split them.
 */
#include "config/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum cfg_type { T_INT, T_UINT, T_DOUBLE, T_BOOL, T_ENUM, T_STRING };

#define CFG_NONZERO 1u       /* flag: a double that may be anything but 0 */
#define CFG_STR_MAX 160      /* longest string value: "key = value" must fit one inih line */
#define CFG_FILE_MAX (256 * 1024)
#define CFG_PRINT_WIDTH 190  /* longer printed lines put their comment on the line above */

struct cfg_key {
    const char *section;
    const char *key;
    enum cfg_type type;
    size_t offset;            /* of the field in struct ecc_config */
    size_t size;              /* of the field */
    double min, max;          /* numbers: inclusive bounds; strings: length bounds */
    const char *def;          /* the default, written as in the INI */
    const char *const *names; /* enums: name of each value, NULL-terminated */
    unsigned flags;
    const char *unit;
    const char *help;
};

/* ---- the table ---------------------------------------------------------------------- */

static const char *const backend_names[] = {"sim", "hw", NULL};
static const char *const mode_names[] = {"continuous", "fixed", "reactive", NULL};
static const char *const drive_names[] = {"sim", "modbus-rtu", "modbus-tcp", "pwm", NULL};
static const char *const encoder_names[] = {"sim", "gpio", "drive", NULL};
static const char *const loadcell_names[] = {"sim", "hx711", "iio", "modbus", NULL};
static const char *const inputs_names[] = {"sim", "gpio", "none", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};
static const char *const parity_names[] = {"none", "even", "odd", NULL};
static const char *const stop_mode_names[] = {"ramp", "coast", NULL};
static const char *const enable_mode_names[] = {"level", "charge_pump", NULL};
static const char *const lc_link_names[] = {"drive", "rtu", "tcp", NULL};
static const char *const reg_kind_names[] = {"holding", "input", NULL};
static const char *const data_type_names[] = {"int16", "uint16", "int32", "uint32", "float32", NULL};
static const char *const word_order_names[] = {"big", "little", NULL};
static const char *const bias_names[] = {"as-is", "pull-up", "pull-down", NULL};

#define FIELD(f) (((struct ecc_config *)0)->f)
/* 0, or a compile error if field f is not the size of type T (catches a table entry
 * whose type does not match the struct). */
#define SIZE_IS(f, T) (sizeof(char[sizeof FIELD(f) == sizeof(T) ? 1 : -1]) - 1)
#define KEY(s, k, t, f, T, lo, hi, def, names, flags, unit, help)                          \
    {s, k, t, offsetof(struct ecc_config, f) + SIZE_IS(f, T), sizeof FIELD(f), lo, hi, def, \
     names, flags, unit, help}
#define K_INT(s, k, f, lo, hi, def, unit, help) \
    KEY(s, k, T_INT, f, int, lo, hi, def, NULL, 0, unit, help)
#define K_UINT(s, k, f, lo, hi, def, unit, help) \
    KEY(s, k, T_UINT, f, unsigned, lo, hi, def, NULL, 0, unit, help)
#define K_DBL(s, k, f, lo, hi, def, unit, help) \
    KEY(s, k, T_DOUBLE, f, double, lo, hi, def, NULL, 0, unit, help)
#define K_BOOL(s, k, f, def, help) KEY(s, k, T_BOOL, f, bool, 0, 1, def, NULL, 0, "", help)
#define K_ENUM(s, k, f, names, def, help) KEY(s, k, T_ENUM, f, int, 0, 0, def, names, 0, "", help)
#define STR_MAX(f) (sizeof FIELD(f) - 1 < CFG_STR_MAX ? sizeof FIELD(f) - 1 : CFG_STR_MAX)
#define K_STR(s, k, f, minlen, def, help) \
    KEY(s, k, T_STRING, f, char[sizeof FIELD(f)], minlen, STR_MAX(f), def, NULL, 0, "", help)
#define INPUT_LINE(k, what) \
    K_INT("inputs", #k, inputs.k, -1, 1023, "-1", "", "GPIO line of the " what " (-1: not wired)")

static const struct cfg_key keys[] = {
    K_ENUM("rig", "backend", rig.backend, backend_names, "sim",
           "sim: the built-in simulated rig; hw: the parts in [drive] [encoder] [loadcell] "
           "[inputs]"),
    K_INT("loop", "rate_hz", loop.rate_hz, 10, 1000, "100", "Hz", "control loop rate"),
    K_INT("loop", "rt_priority", loop.rt_priority, 0, 99, "0", "",
          "SCHED_FIFO priority of the control loop (0: normal scheduling); failing to get "
          "it is a warning"),
    K_BOOL("loop", "lock_memory", loop.lock_memory, "false",
           "mlockall: keep eccd's memory in RAM so the loop never waits on a page fault"),

    K_DBL("limits", "speed_max_mps", limits.speed_max, 0.08, CFG_SPEED_CAP_MPS, "0.70", "m/s",
          "belt speed is never commanded above this"),
    K_DBL("limits", "speed_min_mps", limits.speed_min, 0.02, 0.83, "0.08", "m/s",
          "slowest running speed; a restart after a stop begins here"),
    K_DBL("limits", "accel_mps2", limits.accel, 0.05, 3, "0.6", "m/s^2",
          "slew limit of the commanded speed while running"),
    K_DBL("limits", "stop_decel_mps2", limits.stop_decel, 0.1, 5, "1.0", "m/s^2",
          "ramp of the commanded speed when stopping"),
    K_DBL("limits", "force_abort_n", limits.force_abort, 20, CFG_FORCE_CAP_N, "250", "N",
          "filtered force above this latches an over-force stop"),
    K_DBL("limits", "overspeed_margin", limits.overspeed_margin, 0.02, 0.5, "0.15", "",
          "share by which measured speed may exceed speed_max_mps before it is a fault"),
    K_DBL("limits", "force_stale_s", limits.force_stale_s, 0.05, 5, "0.5", "s",
          "no new load-cell sample for this long is a fault"),
    K_DBL("limits", "speed_disagree_mps", limits.speed_disagree_mps, 0.02, 0.5, "0.1", "m/s",
          "the belt sensor may fall behind the drive-reported speed by this much on average "
          "(slip under the foot)"),
    K_DBL("limits", "speed_disagree_s", limits.speed_disagree_s, 0.1, 5, "0.5", "s",
          "this times speed_disagree_mps is the travel the sensor and the drive may differ by "
          "beyond one pulse spacing before it is a fault"),
    K_DBL("limits", "force_stuck_s", limits.force_stuck_s, 0.2, 10, "2.0", "s",
          "a load-cell reading that does not change at all for this long is a fault"),
    K_DBL("limits", "force_negative_n", limits.force_negative_n, 5, 200, "30", "N",
          "a reading below minus this is implausible (a foot cannot pull): a fault"),
    K_DBL("limits", "force_drift_n", limits.force_drift_n, 2, 50, "10", "N",
          "the unloaded reading (foot off between strokes) may wander this far from zero"),
    K_DBL("limits", "force_drift_s", limits.force_drift_s, 3, 120, "10", "s",
          "window over which the unloaded reading is judged during a set"),
    K_DBL("limits", "loop_late_s", limits.loop_late_s, 0.02, 1, "0.1", "s",
          "a control tick that starts this late is a late tick: counted and logged; "
          "loop_late_burst of them within 10 s latch loop_late"),
    K_DBL("limits", "loop_stall_s", limits.loop_stall_s, 0.05, 2, "0.25", "s",
          "a single tick this late latches loop_late (the controller was blind that long; "
          "keep it at most half of drive.watchdog_s)"),
    K_INT("limits", "loop_late_burst", limits.loop_late_burst, 1, 10, "3", "",
          "late ticks within 10 s that latch loop_late (1: every late tick does)"),
    K_DBL("limits", "speed_silent_s", limits.speed_silent_s, 0.2, 10, "3.0", "s",
          "no belt pulse for this long while commanded to move is a fault"),

    K_DBL("band", "force_low_n", band.force_low, 5, 1000, "60", "N",
          "lower edge of the eccentric force band: below it the belt speeds up"),
    K_DBL("band", "force_high_n", band.force_high, 5, 1000, "100", "N",
          "upper edge of the band: above it the belt slows down"),

    K_ENUM("control", "mode", control.mode, mode_names, "continuous",
           "continuous: belt speed follows the force band; fixed: constant fixed_speed_mps; "
           "reactive: it moves only while loaded"),
    K_DBL("control", "start_speed_mps", control.start_speed, 0.02, 0.83, "0.20", "m/s",
          "belt speed a session starts at (continuous and reactive modes); a patient not yet learned lands here, so slow is safe"),
    K_DBL("control", "fixed_speed_mps", control.fixed_speed, 0.02, 0.83, "0.30", "m/s",
          "belt speed in fixed mode"),
    K_DBL("control", "kp", control.kp, 0, 0.1, "0.003", "(m/s)/N",
          "proportional gain on the band error"),
    K_DBL("control", "ki", control.ki, 0, 1, "0.02", "(m/s)/(N s)",
          "integral gain on the band error"),
    K_DBL("control", "engage_timeout_s", control.engage_timeout_s, 0, 5, "0.4", "s",
          "after contact, act even if the force never reached the band"),
    K_DBL("control", "release_rollback_s", control.release_rollback_s, 0, 1, "0.2", "s",
          "on release, undo the integral gathered over the last this-many seconds"),
    K_DBL("control", "hold_margin", control.hold_margin, 0, 0.45, "0.25", "",
          "share of the band width, at each edge, where the speed is still nudged toward "
          "the middle; the speed is held only in the rest"),
    K_DBL("control", "engage_n", control.engage_n, 5, 500, "25", "N",
          "reactive: the belt moves only while the foot load is above this"),
    K_DBL("control", "lead_margin_mps", control.lead_margin, 0.01, 0.3, "0.05", "m/s",
          "the command never runs further ahead of the measured belt speed than this (a "
          "command the belt cannot follow is a promise it breaks a moment later)"),
    K_BOOL("control", "adapt", control.adapt, "true",
           "steer by the patient's force-speed model learned stroke by stroke (landing speed "
           "chosen ahead, correction from the first force measured); false: the band PI "
           "(kp, ki) alone, which is also the fallback when the model is implausible"),
    K_DBL("control", "slope_n_per_mps", control.slope, 20, 1000, "150", "N/(m/s)",
          "force-speed slope the model starts from (how much the foot force rises per m/s "
          "of belt speed); it is then learned from the strokes"),
    K_DBL("control", "target", control.target, 0.2, 0.8, "0.7", "",
          "where in the band the model aims: 0 the floor, 1 the top (higher: faster strokes)"),
    K_DBL("control", "force_delay_s", control.force_delay_s, 0, 0.5, "0.1", "s",
          "delay from a belt speed change to the foot force it causes (patient reaction, "
          "load-cell filter)"),

    K_BOOL("filter", "spike_reject", filter.spike_reject, "true",
           "median-of-3 drops single-sample load-cell spikes"),
    K_DBL("filter", "cutoff_hz", filter.cutoff_hz, 0.5, 50, "8", "Hz",
          "corner of the first-order low-pass force filter"),

    K_DBL("rep", "contact_n", rep.contact_n, 2, 500, "20", "N",
          "a stroke starts when filtered force rises above this"),
    K_DBL("rep", "release_n", rep.release_n, 1, 500, "12", "N",
          "a stroke ends when filtered force falls below this"),
    K_DBL("rep", "min_stroke_s", rep.min_stroke_s, 0.1, 10, "0.6", "s",
          "shortest stroke that counts"),
    K_DBL("rep", "min_travel_m", rep.min_travel_m, 0.01, 2, "0.25", "m",
          "least belt travel under load that counts"),
    K_DBL("rep", "min_in_band", rep.min_in_band, 0, 1, "0.5", "",
          "least share (0 to 1) of the stroke's loaded window spent inside the force band; "
          "the window runs from contact plus landing_s until the foot starts to lift, and "
          "time below the floor counts as out"),
    K_DBL("rep", "landing_s", rep.landing_s, 0, 1, "0.15", "s",
          "after contact the foot is still landing: the loaded window judged for the band "
          "starts this much later"),

    K_INT("protocol", "reps_per_set", protocol.reps_per_set, 1, 100, "15", "reps",
          "valid reps that make a set"),
    K_INT("protocol", "sets_per_session", protocol.sets_per_session, 1, 20, "3", "sets",
          "sets that make a session"),
    K_DBL("protocol", "rest_s", protocol.rest_s, 0, 1800, "60", "s",
          "rest between sets, belt stopped"),
    K_INT("protocol", "sessions_per_day", protocol.sessions_per_day, 1, 10, "2", "sessions",
          "sessions a patient may begin per day (the protocol is twice daily)"),
    K_DBL("protocol", "min_gap_h", protocol.min_gap_h, 0, 24, "4", "h",
          "least time from the end of one session to the start of the next"),
    K_DBL("protocol", "day_start_h", protocol.day_start_h, 0, 23.99, "3", "h",
          "local time at which a new day's sessions begin (3: a session just after "
          "midnight still counts for the evening before)"),
    K_BOOL("protocol", "allow_extra_sessions", protocol.allow_extra_sessions, "false",
           "clinician's setting: allow more than sessions_per_day (the gap still applies)"),

    K_DBL("progression", "pain_stop", progression.pain_stop, 1, 9, "5", "/10",
          "a set's pain score above this ends the session after that set and the next "
          "session starts one step down (Silbernagel 2007: up to 5 is acceptable, above is "
          "not)"),
    K_DBL("progression", "morning_rise", progression.morning_rise, 1, 5, "2", "/10",
          "a next-morning score on the meaningful task this far above the patient's "
          "baseline: one step down, and a week at that band before any step up "
          "(Silbernagel 2007; Goom 2016)"),
    K_DBL("progression", "up_in_band", progression.up_in_band, 0.5, 1, "0.9", "",
          "a step up needs every set of the last week to have held the band at least this "
          "share of its loaded window (strict time in band)"),
    K_DBL("progression", "up_pain_max", progression.up_pain_max, 0, 5, "3", "/10",
          "... and every set's pain score at most this (Silbernagel 2007: 0 to 3 is safe)"),
    K_DBL("progression", "adherence_flag", progression.adherence_flag, 0.1, 1, "0.7", "",
          "sessions done under this share of the plan over the last 7 days raise the "
          "clinician's flag, and are too few to earn a step up"),

    K_ENUM("drive", "type", drive.type, drive_names, "sim",
           "how the belt motor is driven: VFD over Modbus RTU or TCP, or a PWM motor board"),
    K_STR("drive", "profile", drive.profile, 1, "generic",
          "drive profile for the modbus types: delta-vfd, optidrive-e3, huanyang-gt or generic "
          "([profile]), register maps; huanyang-hy, the HY series' own framing (modbus-rtu "
          "only)"),
    K_STR("drive", "device", drive.device, 1, "/dev/ttyUSB0",
          "serial device (modbus-rtu) or PWM chip path (pwm)"),
    K_INT("drive", "baud", drive.baud, 1200, 921600, "19200", "baud", "serial speed (modbus-rtu)"),
    K_STR("drive", "host", drive.host, 1, "127.0.0.1", "address of the drive (modbus-tcp)"),
    K_INT("drive", "port", drive.port, 1, 65535, "502", "", "TCP port of the drive (modbus-tcp)"),
    K_INT("drive", "unit_id", drive.unit_id, 1, 247, "1", "",
          "Modbus slave id of the drive (huanyang-hy: its PD163)"),
    K_DBL("drive", "hz_per_mps", drive.hz_per_mps, 1, 1000, "60", "Hz/(m/s)",
          "motor frequency per m/s of belt speed"),
    K_INT("drive", "pwm_channel", drive.pwm_channel, 0, 63, "0", "",
          "PWM channel of the chip at drive.device (pwm)"),
    K_DBL("drive", "pwm_period_ms", drive.pwm_period_ms, 1, 1000, "50", "ms",
          "PWM period (pwm; MC-2100-style boards want 50 ms, 20 Hz)"),
    K_DBL("drive", "pwm_max_duty", drive.pwm_max_duty, 0.05, 0.85, "0.85", "",
          "PWM duty is never above this share (pwm)"),
    K_STR("drive", "pwm_table", drive.pwm_table, 0, "0.08:0.10,0.83:0.85",
          "speed-to-duty table from calibration, m/s:share pairs rising (pwm)"),
    K_ENUM("drive", "parity", drive.parity, parity_names, "even", "serial parity (modbus-rtu)"),
    K_INT("drive", "data_bits", drive.data_bits, 7, 8, "8", "bits", "serial data bits"),
    K_INT("drive", "stop_bits", drive.stop_bits, 1, 2, "1", "bits", "serial stop bits"),
    K_DBL("drive", "max_hz", drive.max_hz, 1, 400, "50", "Hz",
          "the drive's maximum frequency (percent setpoints are a share of it)"),
    K_INT("drive", "min_gap_ms", drive.min_gap_ms, 0, 100, "5", "ms",
          "quiet time the drive needs between requests"),
    K_INT("drive", "timeout_ms", drive.timeout_ms, 5, 2000, "50", "ms", "response timeout"),
    K_INT("drive", "retries", drive.retries, 0, 5, "1", "",
          "retries of a failed transaction before it counts as failed"),
    K_INT("drive", "healthy_after", drive.healthy_after, 1, 100, "3", "",
          "good transactions in a row before the link counts as healthy"),
    K_INT("drive", "fail_after", drive.fail_after, 1, 100, "3", "",
          "failed transactions in a row that latch a drive comm-loss fault"),
    K_DBL("drive", "watchdog_s", drive.watchdog_s, 0.1, 10, "1.0", "s",
          "the drive's own comm-loss stop time (set it in the drive; eccd writes well within "
          "it; huanyang-hy has none)"),
    K_ENUM("drive", "stop_mode", drive.stop_mode, stop_mode_names, "ramp",
           "how the drive stops on a fault: ramp down, or coast (where the drive says so)"),
    K_DBL("drive", "accel_time_s", drive.accel_time_s, 0.1, 60, "3", "s",
          "the drive's own acceleration time from 0 to max_hz, as set in the drive "
          "(delta-vfd: 01-09; optidrive-e3: P-03; huanyang-hy: PD014; huanyang-gt and others: "
          "acceleration time 1; pwm and sim: the time to the speed max_hz / hz_per_mps); eccd "
          "never asks for faster, and logs the ramp it measures if the drive is slower"),
    K_DBL("drive", "decel_time_s", drive.decel_time_s, 0.1, 60, "3", "s",
          "the drive's own deceleration time from max_hz to 0 (delta-vfd: 01-10; "
          "optidrive-e3: P-04; huanyang-hy: PD015; others: deceleration time 1)"),
    K_DBL("drive", "dead_time_s", drive.dead_time_s, 0, 0.5, "0.05", "s",
          "from a setpoint write until the belt starts to follow (bus, drive reaction)"),

    K_INT("profile", "address_base", profile.address_base, 0, 1, "0", "",
          "1 if the manual numbers registers from 1 (the wire address is one less)"),
    K_INT("profile", "read_fc", profile.read_fc, 3, 4, "3", "", "function code for reads (3 or 4)"),
    K_INT("profile", "write_fc", profile.write_fc, 6, 16, "6", "",
          "function code for writes (6 or 16)"),
    K_INT("profile", "reg_command", profile.reg_command, 0, 65535, "0", "", "command register"),
    K_INT("profile", "cmd_run", profile.cmd_run, 0, 65535, "1", "", "command value: run forward"),
    K_INT("profile", "cmd_stop", profile.cmd_stop, 0, 65535, "0", "", "command value: ramp stop"),
    K_INT("profile", "cmd_coast", profile.cmd_coast, 0, 65535, "0", "",
          "command value: coast stop"),
    K_INT("profile", "reg_reset", profile.reg_reset, 0, 65535, "0", "", "fault-reset register"),
    K_INT("profile", "cmd_reset", profile.cmd_reset, 0, 65535, "4", "", "fault-reset value"),
    K_INT("profile", "reg_setpoint", profile.reg_setpoint, 0, 65535, "1", "",
          "frequency setpoint register"),
    K_BOOL("profile", "setpoint_percent", profile.setpoint_percent, "false",
           "the setpoint is a share of drive.max_hz, not a frequency"),
    K_DBL("profile", "setpoint_scale", profile.setpoint_scale, 0.001, 10000, "100", "",
          "setpoint register units per Hz (or per %)"),
    K_INT("profile", "reg_freq", profile.reg_freq, 0, 65535, "2", "",
          "output frequency register"),
    K_DBL("profile", "freq_scale", profile.freq_scale, 0.001, 10000, "100", "",
          "output frequency register units per Hz"),
    K_INT("profile", "reg_current", profile.reg_current, -1, 65535, "-1", "",
          "output current register (-1: none)"),
    K_DBL("profile", "current_scale", profile.current_scale, 0.001, 10000, "10", "",
          "output current register units per A"),
    K_INT("profile", "reg_status", profile.reg_status, -1, 65535, "-1", "",
          "status register (-1: none)"),
    K_INT("profile", "reg_fault", profile.reg_fault, -1, 65535, "3", "",
          "fault code register, 0 = healthy (-1: none)"),

    K_ENUM("encoder", "type", encoder.type, encoder_names, "sim",
           "belt speed sensor: pulses on GPIO, or the drive's reported output frequency"),
    K_DBL("encoder", "pulses_per_m", encoder.pulses_per_m, 0.5, 10000, "20", "1/m",
          "pulses per metre of belt travel"),
    K_DBL("encoder", "timeout_s", encoder.timeout_s, 0.2, 10, "3.0", "s",
          "speed reads zero after this long without a pulse"),
    K_STR("encoder", "chip", encoder.chip, 1, "gpiochip0", "GPIO chip of the pulse input"),
    K_INT("encoder", "line", encoder.line, 0, 1023, "17", "", "GPIO line of the pulse input"),
    K_INT("encoder", "line_b", encoder.line_b, -1, 1023, "-1", "",
          "quadrature B line, for direction (-1: one channel)"),
    K_ENUM("encoder", "bias", encoder.bias, bias_names, "pull-up",
           "pull on the pulse line(s) (open-collector sensors need pull-up)"),

    K_ENUM("loadcell", "type", loadcell.type, loadcell_names, "sim",
           "load-cell front end: HX711 on GPIO, Linux IIO, or a Modbus weighing transmitter"),
    KEY("loadcell", "scale", T_DOUBLE, loadcell.scale, double, -HUGE_VAL, HUGE_VAL, "1.0", NULL,
        CFG_NONZERO, "N/count", "newtons per raw count (span; negative flips the sign; a "
        "saved calibration replaces it)"),
    K_DBL("loadcell", "offset", loadcell.offset, -HUGE_VAL, HUGE_VAL, "0", "counts",
          "raw reading at zero load (tare; a saved calibration replaces it)"),
    K_DBL("loadcell", "rate_hz", loadcell.rate_hz, 1, 1000, "80", "Hz",
          "sample rate (HX711: 10 or 80; modbus: how often it is read)"),
    K_ENUM("loadcell", "link", loadcell.link, lc_link_names, "drive",
           "modbus: on the drive's bus (another unit id), or its own RTU or TCP link"),
    K_STR("loadcell", "device", loadcell.device, 1, "/dev/ttyUSB1", "serial device (link = rtu)"),
    K_INT("loadcell", "baud", loadcell.baud, 1200, 921600, "19200", "baud",
          "serial speed (link = rtu)"),
    K_ENUM("loadcell", "parity", loadcell.parity, parity_names, "even", "serial parity (link = rtu)"),
    K_STR("loadcell", "host", loadcell.host, 1, "127.0.0.1", "transmitter address (link = tcp)"),
    K_INT("loadcell", "port", loadcell.port, 1, 65535, "502", "", "TCP port (link = tcp)"),
    K_INT("loadcell", "unit_id", loadcell.unit_id, 1, 247, "2", "",
          "Modbus slave id of the transmitter"),
    K_INT("loadcell", "register", loadcell.reg, 0, 65535, "0", "",
          "register holding the reading (wire address)"),
    K_ENUM("loadcell", "reg_kind", loadcell.reg_kind, reg_kind_names, "holding",
           "holding (function 3) or input (function 4) register"),
    K_ENUM("loadcell", "data_type", loadcell.data_type, data_type_names, "int32",
           "how the reading is encoded"),
    K_ENUM("loadcell", "word_order", loadcell.word_order, word_order_names, "big",
           "32-bit readings: high word first (big) or low word first (little)"),
    K_INT("loadcell", "tare_register", loadcell.tare_reg, -1, 65535, "-1", "",
          "register to write to tare the transmitter, which then reads net (-1: eccd tares "
          "in software)"),
    K_INT("loadcell", "tare_value", loadcell.tare_value, 0, 65535, "1", "",
          "value written to tare_register"),
    K_DBL("loadcell", "full_scale_n", loadcell.full_scale_n, 10, 10000, "1000", "N",
          "readings at or beyond this are saturated (a fault)"),
    K_DBL("loadcell", "span_change_max", loadcell.span_change_max, 0, 10, "0.25", "share",
          "a span calibration that changes the scale by more than this share of the last "
          "span's (or flips its sign) is refused unless confirmed (eccctl calibrate "
          "--confirm); 0: never asked"),
    K_STR("loadcell", "hx711_chip", loadcell.hx711_chip, 1, "gpiochip0",
          "GPIO chip of the HX711 lines (hx711)"),
    K_INT("loadcell", "hx711_sck_line", loadcell.hx711_sck_line, 0, 1023, "5", "",
          "GPIO line to the HX711's PD_SCK (hx711)"),
    K_INT("loadcell", "hx711_dout_line", loadcell.hx711_dout_line, 0, 1023, "6", "",
          "GPIO line from the HX711's DOUT (hx711)"),
    K_INT("loadcell", "hx711_gain", loadcell.hx711_gain, 32, 128, "128", "",
          "HX711 gain: 128 or 64 (channel A) or 32 (channel B)"),
    K_STR("loadcell", "iio_device", loadcell.iio_device, 1, "/sys/bus/iio/devices/iio:device0",
          "sysfs directory of the kernel's hx711 IIO device (iio)"),
    K_STR("loadcell", "iio_channel", loadcell.iio_channel, 1, "in_voltage0_raw",
          "raw value file in iio_device (iio)"),
    K_STR("loadcell", "calibration", loadcell.calibration, 0, "",
          "file eccctl tare and calibrate save to; its offset and scale replace the keys "
          "(empty: none)"),

    K_ENUM("inputs", "type", inputs.type, inputs_names, "sim",
           "e-stop, safety key and buttons: GPIO, simulated, or none"),
    K_STR("inputs", "chip", inputs.chip, 1, "gpiochip0", "GPIO chip of the input lines"),
    INPUT_LINE(estop_line, "e-stop circuit"),
    INPUT_LINE(key_line, "safety key"),
    INPUT_LINE(start_line, "start button"),
    INPUT_LINE(stop_line, "stop button"),
    INPUT_LINE(next_line, "next-set button"),
    K_BOOL("inputs", "active_low", inputs.active_low, "true",
           "buttons read 0 when pressed"),
    K_INT("inputs", "estop_ok_level", inputs.estop_ok_level, 0, 1, "0", "",
          "level the e-stop and key lines read when all is well (a normally-closed contact "
          "to ground reads 0); any other level, a broken wire too, is a stop"),
    K_ENUM("inputs", "bias", inputs.bias, bias_names, "pull-up",
           "pull on the input lines (with estop_ok_level 0, pull-up makes a broken wire a stop)"),
    K_INT("inputs", "debounce_ms", inputs.debounce_ms, 0, 200, "20", "ms",
          "a level must hold this long before it counts"),
    INPUT_LINE(enable_line, "drive-enable output, held only while eccd is healthy and ticking"),
    K_BOOL("inputs", "enable_active_high", inputs.enable_active_high, "true",
           "the drive-enable output is high when enabled"),
    K_ENUM("inputs", "enable_mode", inputs.enable_mode, enable_mode_names, "level",
           "level: held while healthy; charge_pump: a square wave at pump_hz made by the loop's "
           "ticks, for a relay that drops when it stops (docs/wiring.md)"),
    K_DBL("inputs", "pump_hz", inputs.pump_hz, 1, 250, "25", "Hz",
          "charge_pump: the output's square-wave frequency; at most loop.rate_hz / 2 (one edge "
          "a tick)"),

    K_STR("sim", "scenario", sim.scenario, 1, "normal",
          "athlete scenario: a name, or an INI path relative to this file"),
    K_UINT("sim", "seed", sim.seed, 0, 4294967295.0, "1", "", "random seed: same seed, same run"),
    K_DBL("sim", "speed", sim.speed, 0, 1000, "0", "",
          "0: as fast as possible; else times real time (1 = real time)"),
    K_DBL("sim", "loadcell_rate_hz", sim.loadcell_rate_hz, 1, 1000, "80", "Hz",
          "simulated load-cell sample rate"),
    K_DBL("sim", "loadcell_noise_n", sim.loadcell_noise_n, 0, 50, "0.8", "N",
          "standard deviation of the load-cell noise"),
    K_DBL("sim", "loadcell_resolution_n", sim.loadcell_resolution_n, 0, 10, "0.05", "N",
          "load-cell quantisation step"),
    K_DBL("sim", "drive_accel_mps2", sim.drive_accel, 0.05, 10, "0.3", "m/s^2",
          "the simulated drive's own ramp (a treadmill VFD takes 2 to 5 s to full speed)"),
    K_DBL("sim", "drive_dead_time_s", sim.drive_dead_s, 0, 0.5, "0.05", "s",
          "the simulated drive answers a setpoint only this long after it was given"),
    K_DBL("sim", "slip", sim.slip, 0, 0.01, "0.0002", "(m/s)/N",
          "belt slows this much per newton of foot load"),
    K_DBL("sim", "encoder_scale", sim.encoder_scale, 0.25, 4, "1", "",
          "the simulated belt sensor really pulses this many times encoder.pulses_per_m "
          "(1: calibrated; else a fault to inject)"),
    K_STR("sim", "truth_log", sim.truth_log, 0, "",
          "JSON-lines file of the athlete's strokes (empty: none)"),
    K_DBL("sim", "wall_start", sim.wall_start, 0, 4102444800.0, "1767596400", "s",
          "the simulated wall clock (UTC, s since 1970) at virtual time 0; the default is "
          "2026-01-05 07:00 UTC"),
    K_BOOL("sim", "skip_quiet", sim.skip_quiet, "false",
           "jump over quiet stretches (the belt still, nobody about to act) in one tick "
           "instead of a tick every period: for runs of weeks (sim.speed = 0 only; traces "
           "then have no rows for the stretch)"),

    K_STR("eccsim", "listen", eccsim.listen, 1, "127.0.0.1", "eccsim: TCP address to serve on"),
    K_INT("eccsim", "tcp_port", eccsim.tcp_port, 0, 65535, "1502", "",
          "eccsim: Modbus TCP port (0: no TCP)"),
    K_STR("eccsim", "pty_link", eccsim.pty_link, 0, "",
          "eccsim: symlink made to the RTU pseudo-terminal it creates (empty: no symlink)"),
    K_BOOL("eccsim", "pace_bytes", eccsim.pace_bytes, "true",
           "eccsim: send RTU bytes at the pace of drive.baud, as a real wire does"),
    K_INT("eccsim", "trip_code", eccsim.trip_code, 1, 65535, "7", "",
          "eccsim: the fault code a scripted drive trip shows"),
    K_STR("eccsim", "truth_csv", eccsim.truth_csv, 0, "",
          "eccsim: CSV of the true belt speed and force over time (empty: none)"),

    K_STR("history", "path", history.path, 0, "/var/lib/eccd/history.db",
          "SQLite file of every session, set, rep, fault and calibration (empty: keep no "
          "history; relative paths are taken from the config file's directory)"),
    K_INT("history", "queue_len", history.queue_len, 16, 65536, "1024", "events",
          "events waiting for the history writer before new ones are dropped"),

    K_STR("sync", "rig_id", sync.rig_id, 0, "",
          "eccsync: this rig's name in the clinic's database, 1 to 63 of a-z, 0-9, - and _ "
          "(empty: no replication)"),
    K_STR("sync", "credentials", sync.credentials, 0, "/etc/eccd/sync.conninfo",
          "eccsync: file holding the libpq connection string (host, port, dbname, user, "
          "password, sslmode, sslrootcert), readable by eccsync's user only (mode 0600; "
          "relative paths are taken from the config file's directory)"),
    K_INT("sync", "batch_rows", sync.batch_rows, 1, 10000, "500", "rows",
          "eccsync: rows sent in one transaction"),
    K_DBL("sync", "interval_s", sync.interval_s, 0.1, 3600, "2", "s",
          "eccsync: once everything is sent, look for new rows this often"),
    K_DBL("sync", "retry_max_s", sync.retry_max_s, 1, 3600, "60", "s",
          "eccsync: the longest wait between attempts to reach the server (it doubles from 1 s)"),
    K_DBL("sync", "pull_s", sync.pull_s, 0, 86400, "30", "s",
          "eccsync: how often to bring back what the clinic shares (patients, their "
          "programmes) and hand it to eccd over [server] socket (0: never)"),
    K_BOOL("sync", "require_tls", sync.require_tls, "true",
           "eccsync: refuse a connection over TCP without sslmode=verify-full (a Unix socket "
           "on this machine needs none)"),

    K_STR("server", "socket", server.socket, 0, "/run/eccd/eccd.sock",
          "eccctl's Unix socket (empty: none; relative paths are taken from the config "
          "file's directory)"),
    K_STR("server", "owner", server.owner, 0, "",
          "user owning the socket (empty: the user eccd runs as)"),
    K_STR("server", "group", server.group, 0, "",
          "group owning the socket; its members may use eccctl (empty: eccd's group)"),
    K_INT("server", "max_clients", server.max_clients, 1, 64, "8", "",
          "eccctl connections served at once; one more is kept in reserve for a status "
          "request, so a full house never locks the operator out"),
    K_INT("server", "clients_per_user", server.clients_per_user, 1, 64, "4", "",
          "connections one user may hold of max_clients (more is told busy)"),
    K_DBL("server", "idle_timeout_s", server.idle_timeout_s, 0, 86400, "3900", "s",
          "a client that sends nothing this long (with no reply owed) is dropped; longer "
          "than eccctl status --watch's longest interval (3600 s); 0: never"),
    K_DBL("server", "stall_timeout_s", server.stall_timeout_s, 0, 3600, "30", "s",
          "a client whose replies have not moved this long (it does not read) is dropped; "
          "0: never"),

    K_STR("web", "listen", web.listen, 1, "127.0.0.1",
          "eccweb: the address the patient's page is served on: 127.0.0.1 or ::1 (this "
          "machine only), an address of the rig, or 0.0.0.0 / :: (every network: then a "
          "phone must pair with a PIN before it may control anything; docs/web.md)"),
    K_INT("web", "port", web.port, 1, 65535, "8080", "", "eccweb: TCP port of the page"),
    K_INT("web", "rate_hz", web.rate_hz, 10, 25, "20", "Hz",
          "eccweb: live updates a second sent to each page (each carries every control "
          "tick since the one before)"),
    K_BOOL("web", "allow_start", web.allow_start, "false",
           "eccweb: a paired page may start a set and cut a rest short (with a "
           "hold-to-confirm); stop is always offered, fault reset never"),
    K_BOOL("web", "trust_loopback", web.trust_loopback, "true",
           "eccweb: a browser on the rig itself (127.0.0.1, ::1) may control without "
           "pairing; false: it pairs like any other"),
    K_STR("web", "hostnames", web.hostnames, 0, "",
          "eccweb: host names the page may be opened by besides an address and localhost, "
          "comma-separated (e.g. rig.local); others are refused (DNS rebinding)"),
    K_STR("web", "pin_file", web.pin_file, 0, "/run/eccweb/pin",
          "eccweb: file the current pairing PIN is written to (mode 0640, for eccctl pair; "
          "relative paths are taken from the config file's directory; empty: none)"),
    K_DBL("web", "pin_lifetime_s", web.pin_lifetime_s, 30, 86400, "600", "s",
          "eccweb: a pairing PIN is replaced after this long, and once it is used"),
    K_INT("web", "pin_tries", web.pin_tries, 1, 20, "5", "",
          "eccweb: wrong PINs (from anyone) before pairing is locked and the PIN replaced"),
    K_DBL("web", "pin_lockout_s", web.pin_lockout_s, 10, 86400, "300", "s",
          "eccweb: how long pairing stays locked after pin_tries wrong PINs"),
    K_DBL("web", "session_days", web.session_days, 0.01, 3650, "90", "days",
          "eccweb: a paired phone or tablet stays paired this long (or until eccweb restarts)"),
    K_INT("web", "max_paired", web.max_paired, 1, 64, "8", "",
          "eccweb: paired devices kept; pairing one more forgets the least recently seen"),
    K_INT("web", "max_connections", web.max_connections, 4, 256, "32", "",
          "eccweb: HTTP connections at once (a live page holds one, plus one per request)"),
    K_INT("web", "connections_per_ip", web.connections_per_ip, 2, 256, "8", "",
          "eccweb: of them, from one address"),
    K_INT("web", "idle_timeout_s", web.idle_timeout_s, 2, 3600, "15", "s",
          "eccweb: a connection that sends or takes nothing this long is closed"),
    K_STR("web", "tls_cert", web.tls_cert, 0, "",
          "eccweb: PEM certificate for HTTPS (with tls_key; empty: plain HTTP; relative "
          "paths are taken from the config file's directory)"),
    K_STR("web", "tls_key", web.tls_key, 0, "",
          "eccweb: PEM private key for tls_cert (keep it readable by eccweb only)"),

    K_STR("daemon", "user", daemon.user, 0, "",
          "if started as root: open the hardware, then run as this user (empty: stay; "
          "under systemd the unit's User= does it)"),

    K_ENUM("log", "level", log.level, level_names, "info", "least severe message logged"),
    K_STR("log", "rep_log", log.rep_log, 0, "",
          "JSON-lines rep and fault log (empty: none; --rep-log overrides)"),
};

#define NKEYS ((int)(sizeof keys / sizeof keys[0]))
_Static_assert(sizeof keys / sizeof keys[0] <= CFG_KEYS_MAX, "key_line[] is too small");
_Static_assert(sizeof(enum cfg_mode) == sizeof(int), "enums are stored as int");

/* ---- small helpers ------------------------------------------------------------------ */

/* Append to buf (size n, *len used so far), never overflowing; truncates quietly. */
__attribute__((format(printf, 4, 5)))
static void append(char *buf, size_t n, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int k;

    if (*len >= n)
        return;
    va_start(ap, fmt);
    k = vsnprintf(buf + *len, n - *len, fmt, ap);
    va_end(ap);
    if (k > 0)
        *len = *len + (size_t)k < n ? *len + (size_t)k : n;
}

/* Write "FILE:LINE: " (line > 0), "--set: " (line < 0) or "FILE: " (line 0) and the
 * message into err. Returns -1 so callers can `return say(...)`. */
__attribute__((format(printf, 5, 0)))
static int vsay(char *err, size_t n, const char *file, int line, const char *fmt, va_list ap)
{
    size_t len = 0;

    if (!err || n == 0)
        return -1;
    err[0] = '\0';
    if (line > 0)
        append(err, n, &len, "%s:%d: ", file, line);
    else if (line < 0)
        append(err, n, &len, "--set: ");
    else if (file && *file)
        append(err, n, &len, "%s: ", file);
    if (len < n)
        vsnprintf(err + len, n - len, fmt, ap);
    return -1;
}

__attribute__((format(printf, 5, 6)))
static int say(char *err, size_t n, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsay(err, n, file, line, fmt, ap);
    va_end(ap);
    return -1;
}

/* The shortest of %.15g / %.17g that reads back as exactly v. */
static void fmt_real(double v, char *buf, size_t n)
{
    snprintf(buf, n, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, n, "%.17g", v);
}

static int find_key(const char *section, const char *key)
{
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].section, section) && !strcmp(keys[i].key, key))
            return i;
    return -1;
}

static bool section_known(const char *section)
{
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].section, section))
            return true;
    return false;
}

/* "rig, loop, limits, ..." (sections are contiguous in keys[]). */
static void list_sections(char *buf, size_t n)
{
    size_t len = 0;

    buf[0] = '\0';
    for (int i = 0; i < NKEYS; i++)
        if (i == 0 || strcmp(keys[i].section, keys[i - 1].section))
            append(buf, n, &len, "%s%s", i ? ", " : "", keys[i].section);
}

static void list_keys(const char *section, char *buf, size_t n)
{
    size_t len = 0;

    buf[0] = '\0';
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].section, section))
            append(buf, n, &len, "%s%s", len ? ", " : "", keys[i].key);
}

static void *field_of(struct ecc_config *cfg, const struct cfg_key *k)
{
    return (char *)cfg + k->offset;
}

static const void *cfield_of(const struct ecc_config *cfg, const struct cfg_key *k)
{
    return (const char *)cfg + k->offset;
}

/* ---- one parse / format / allowed function per type --------------------------------- */

/* Each parser checks the whole text and stores into the field only if it is valid;
 * otherwise it writes what is wrong into why and returns -1. */

static int parse_int(const struct cfg_key *k, const char *s, void *field, char *why, size_t n)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (end == s || *end || isspace((unsigned char)*s))
        return say(why, n, NULL, 0, "\"%s\" is not a whole number", s);
    if (errno == ERANGE || v < k->min || v > k->max)
        return say(why, n, NULL, 0, "%s is out of range", s);
    if (k->type == T_UINT)
        *(unsigned *)field = (unsigned)v;
    else
        *(int *)field = (int)v;
    return 0;
}

static int parse_double(const struct cfg_key *k, const char *s, void *field, char *why, size_t n)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end || isspace((unsigned char)*s))
        return say(why, n, NULL, 0, "\"%s\" is not a number", s);
    if (errno == ERANGE)
        return say(why, n, NULL, 0, "%s is too %s to represent", s,
                   fabs(v) > 1 ? "large" : "small");
    if (!isfinite(v))
        return say(why, n, NULL, 0, "\"%s\" is not a finite number", s);
    if (v < k->min || v > k->max || (v == 0 && (k->flags & CFG_NONZERO)))
        return say(why, n, NULL, 0, "%s is out of range", s);
    *(double *)field = v;
    return 0;
}

static int parse_bool(const struct cfg_key *k, const char *s, void *field, char *why, size_t n)
{
    static const char *const words[] = {"false", "true", "no", "yes", "off", "on", "0", "1"};

    (void)k;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (!strcasecmp(s, words[i])) {
            *(bool *)field = i % 2;
            return 0;
        }
    }
    return say(why, n, NULL, 0, "\"%s\" is not a boolean", s);
}

static int parse_enum(const struct cfg_key *k, const char *s, void *field, char *why, size_t n)
{
    for (int i = 0; k->names[i]; i++) {
        if (!strcmp(s, k->names[i])) {
            *(int *)field = i;
            return 0;
        }
    }
    return say(why, n, NULL, 0, "\"%s\" is not a known name", s);
}

static int parse_string(const struct cfg_key *k, const char *s, void *field, char *why, size_t n)
{
    size_t len = strlen(s);

    if (len < k->min)
        return say(why, n, NULL, 0, "empty value");
    if (len > k->max)
        return say(why, n, NULL, 0, "value is %zu characters long", len);
    for (size_t i = 0; i < len; i++) {
        if (iscntrl((unsigned char)s[i]))
            return say(why, n, NULL, 0, "value contains a control character");
        if (s[i] == ';' && (i == 0 || isspace((unsigned char)s[i - 1])))
            return say(why, n, NULL, 0, "value contains \" ;\", which starts a comment");
    }
    memset(field, 0, k->size);
    memcpy(field, s, len);
    return 0;
}

static void format_int(const struct cfg_key *k, const void *field, char *buf, size_t n)
{
    if (k->type == T_UINT)
        snprintf(buf, n, "%u", *(const unsigned *)field);
    else
        snprintf(buf, n, "%d", *(const int *)field);
}

static void format_double(const struct cfg_key *k, const void *field, char *buf, size_t n)
{
    (void)k;
    fmt_real(*(const double *)field, buf, n);
}

static void format_bool(const struct cfg_key *k, const void *field, char *buf, size_t n)
{
    (void)k;
    snprintf(buf, n, "%s", *(const bool *)field ? "true" : "false");
}

static void format_enum(const struct cfg_key *k, const void *field, char *buf, size_t n)
{
    int v = *(const int *)field, count = 0;

    while (k->names[count])
        count++;
    snprintf(buf, n, "%s", v >= 0 && v < count ? k->names[v] : "?");
}

static void format_string(const struct cfg_key *k, const void *field, char *buf, size_t n)
{
    snprintf(buf, n, "%.*s", (int)k->size, (const char *)field);
}

static void allowed_number(const struct cfg_key *k, char *buf, size_t n)
{
    char lo[32], hi[32];

    if (isinf(k->min) && isinf(k->max)) {
        snprintf(buf, n, "%s", k->flags & CFG_NONZERO ? "any nonzero number" : "any number");
        return;
    }
    fmt_real(k->min, lo, sizeof lo);
    fmt_real(k->max, hi, sizeof hi);
    snprintf(buf, n, "%s to %s%s%s", lo, hi, *k->unit ? " " : "", k->unit);
}

static void allowed_bool(const struct cfg_key *k, char *buf, size_t n)
{
    (void)k;
    snprintf(buf, n, "true, false, yes, no, on, off, 1, 0");
}

static void allowed_enum(const struct cfg_key *k, char *buf, size_t n)
{
    size_t len = 0;

    buf[0] = '\0';
    for (int i = 0; k->names[i]; i++)
        append(buf, n, &len, "%s%s", i ? ", " : "", k->names[i]);
}

static void allowed_string(const struct cfg_key *k, char *buf, size_t n)
{
    snprintf(buf, n, k->min > 0 ? "1 to %.0f characters" : "at most %.0f characters", k->max);
}

struct cfg_type_ops {
    int (*parse)(const struct cfg_key *k, const char *text, void *field, char *why, size_t n);
    void (*format)(const struct cfg_key *k, const void *field, char *buf, size_t n);
    void (*allowed)(const struct cfg_key *k, char *buf, size_t n);
};

static const struct cfg_type_ops type_ops[] = {
    [T_INT] = {parse_int, format_int, allowed_number},
    [T_UINT] = {parse_int, format_int, allowed_number},
    [T_DOUBLE] = {parse_double, format_double, allowed_number},
    [T_BOOL] = {parse_bool, format_bool, allowed_bool},
    [T_ENUM] = {parse_enum, format_enum, allowed_enum},
    [T_STRING] = {parse_string, format_string, allowed_string},
};

static int parse_key(const struct cfg_key *k, const char *text, struct ecc_config *cfg,
                     char *why, size_t n)
{
    if (!*text && k->type != T_STRING)
        return say(why, n, NULL, 0, "empty value");
    return type_ops[k->type].parse(k, text, field_of(cfg, k), why, n);
}

static void format_key(const struct cfg_key *k, const struct ecc_config *cfg, char *buf, size_t n)
{
    type_ops[k->type].format(k, cfield_of(cfg, k), buf, n);
}

/* ---- applying one key (file line or --set) ------------------------------------------ */

struct load_ctx {
    struct ecc_config *cfg;
    const char *file;          /* as given to config_load */
    const char *buf;           /* the file's contents */
    size_t len, pos;           /* its size, and where read_line() goes on */
    int line;                  /* the line read_line() returned last */
    char section[64];          /* the section read_line() saw last */
    char *err;
    size_t errlen;
    bool failed;               /* the first error is in err; later ones are dropped */
    int err_line;              /* its line */
};

__attribute__((format(printf, 3, 4)))
static int report(struct load_ctx *c, int line, const char *fmt, ...)
{
    va_list ap;

    if (c->failed)
        return -1;
    c->failed = true;
    c->err_line = line;
    va_start(ap, fmt);
    vsay(c->err, c->errlen, c->file, line, fmt, ap);
    va_end(ap);
    return -1;
}

/* Set section.name = value, read at line (-1: from --set). Returns 0 or -1 (reported). */
static int apply(struct load_ctx *c, const char *section, const char *name, const char *value,
                 int line)
{
    char allowed[512], why[256];
    int i;

    if (!*section)
        return report(c, line, "[] %s: key outside any section (allowed: a [section] line first)",
                      name);
    if (!section_known(section)) {
        list_sections(allowed, sizeof allowed);
        return report(c, line, "[%s]: unknown section (allowed: %s)", section, allowed);
    }
    i = find_key(section, name);
    if (i < 0) {
        list_keys(section, allowed, sizeof allowed);
        return report(c, line, "[%s] %s: unknown key (allowed: %s)", section, name, allowed);
    }
    if (line > 0 && c->cfg->key_line[i] > 0)
        return report(c, line, "[%s] %s: duplicate key (first set at line %d)", section, name,
                      c->cfg->key_line[i]);
    if (parse_key(&keys[i], value, c->cfg, why, sizeof why) < 0) {
        type_ops[keys[i].type].allowed(&keys[i], allowed, sizeof allowed);
        return report(c, line, "[%s] %s: %s (allowed: %s)", section, name, why, allowed);
    }
    c->cfg->key_line[i] = line;
    return 0;
}

/* inih's handler: its line is the one read_line() returned last. */
static int handle_key(void *user, const char *section, const char *name, const char *value)
{
    struct load_ctx *c = user;

    if (c->failed)
        return 1;
    return apply(c, section, name, value, c->line) == 0;
}

/* ---- reading lines for inih ---------------------------------------------------------- */

/* A "[name]" header: remember it, refuse unknown or malformed ones. */
static void scan_section(struct load_ctx *c, const char *s)
{
    const char *end = strchr(s, ']');
    char allowed[256];
    size_t rest;

    if (!end) {
        report(c, c->line, "%s: section header without ']' (allowed: [name])", s);
        return;
    }
    rest = strspn(end + 1, " \t");
    if (end[1 + rest] && end[1 + rest] != ';') {
        report(c, c->line, "%s: text after the section header (allowed: [name] ; comment)", s);
        return;
    }
    snprintf(c->section, sizeof c->section, "%.*s", (int)(end - s - 1), s + 1);
    if ((size_t)(end - s - 1) >= sizeof c->section || !section_known(c->section)) {
        list_sections(allowed, sizeof allowed);
        report(c, c->line, "[%.*s]: unknown section (allowed: %s)", (int)(end - s - 1), s + 1,
               allowed);
    }
}

/* A line that does not fit inih's buffer: name its key if it has one. */
static void too_long(struct load_ctx *c, const char *s, size_t n, int max)
{
    size_t klen = 0;            /* s is a line inside the file's buffer: no NUL to stop at */

    while (klen < n && s[klen] != '=' && s[klen] != ':')
        klen++;
    if (klen >= n) {
        report(c, c->line, "[%s]: line is %zu characters long "
               "(allowed: at most %d characters per line)", c->section, n, max);
        return;
    }
    while (klen > 0 && isspace((unsigned char)s[klen - 1]))
        klen--;
    report(c, c->line, "[%s] %.*s: line is %zu characters long "
           "(allowed: at most %d characters per line)", c->section, (int)(klen < 64 ? klen : 64), s,
           n, max);
}

/* Check one line (s, n chars, no newline) and copy what inih should see into out. */
static void scan_line(struct load_ctx *c, const char *s, size_t n, char *out, size_t outlen)
{
    if (c->line == 1 && n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
        s += 3, n -= 3;
    while (n > 0 && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    out[0] = '\0';
    if (n > 0 && (*s == ';' || *s == '#'))
        return; /* a comment, of any length */
    if (memchr(s, '\0', n)) {
        report(c, c->line, "[%s]: line contains a NUL byte", c->section);
        return;
    }
    if (n + 2 > outlen) {
        too_long(c, s, n, (int)outlen - 2);
        return;
    }
    memcpy(out, s, n);
    memcpy(out + n, "\n", 2);
    if (out[0] == '[') {
        out[n] = '\0';
        scan_section(c, out);
        out[n] = '\n';
    } else if (n > 0 && !memchr(out, '=', n) && !memchr(out, ':', n)) {
        report(c, c->line, "[%s]: \"%.*s\" is not a key = value line", c->section,
               (int)(n < 64 ? n : 64), out);
    }
}

/* inih's reader: exactly one physical line per call, leading blanks stripped. */
static char *read_line(char *str, int num, void *stream)
{
    struct load_ctx *c = stream;
    const char *p, *eol;
    size_t n;

    if (c->pos >= c->len || num < 3)
        return NULL;
    p = c->buf + c->pos;
    eol = memchr(p, '\n', c->len - c->pos);
    n = eol ? (size_t)(eol - p) : c->len - c->pos;
    c->pos += n + (eol != NULL);
    c->line++;
    scan_line(c, p, n, str, (size_t)num);
    return str;
}

/* Read the whole file into *buf (malloc'd, caller frees). */
static int read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    int e;

    *buf = NULL;
    if (!f)
        return say(err, errlen, path, 0, "cannot open: %s", strerror(errno));
    *buf = malloc(CFG_FILE_MAX + 1);
    if (!*buf) {
        fclose(f);
        return say(err, errlen, path, 0, "out of memory");
    }
    errno = 0;
    *len = fread(*buf, 1, CFG_FILE_MAX + 1, f);
    e = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (e)
        return say(err, errlen, path, 0, "cannot read: %s", strerror(e));
    if (*len > CFG_FILE_MAX)
        return say(err, errlen, path, 0, "larger than %d bytes", CFG_FILE_MAX);
    return 0;
}

/* ---- public: defaults, load, set ------------------------------------------------------ */

void config_defaults(struct ecc_config *cfg)
{
    char why[128];

    memset(cfg, 0, sizeof *cfg);
    for (int i = 0; i < NKEYS; i++)
        parse_key(&keys[i], keys[i].def, cfg, why, sizeof why); /* tests check they all parse */
}

/* Parse buf (the file's contents, len bytes; need not end in a newline or NUL). */
static int load_text(struct ecc_config *cfg, const char *name, const char *buf, size_t len,
                     char *err, size_t errlen)
{
    struct load_ctx c = {.cfg = cfg, .file = name, .buf = buf, .len = len, .err = err,
                         .errlen = errlen};
    int rc = ini_parse_stream(read_line, &c, handle_key, &c);

    if (rc > 0 && (!c.failed || rc < c.err_line))
        return say(err, errlen, name, rc,
                   "syntax error (allowed: [section], key = value, ; comment)");
    if (rc < 0 && !c.failed)
        return say(err, errlen, name, 0, "cannot parse (inih error %d)", rc);
    if (c.failed)
        return -1;
    return config_check(cfg, err, errlen);
}

static int set_path(struct ecc_config *cfg, const char *path, char *err, size_t errlen)
{
    if (!path)
        return say(err, errlen, NULL, 0, "no config file given");
    if (strlen(path) >= sizeof cfg->path)
        return say(err, errlen, path, 0, "path is too long (allowed: at most %zu characters)",
                   sizeof cfg->path - 1);
    memcpy(cfg->path, path, strlen(path) + 1);
    return 0;
}

int config_load(struct ecc_config *cfg, const char *path, char *err, size_t errlen)
{
    char *buf;
    size_t len = 0;
    int rc;

    config_defaults(cfg);
    if (set_path(cfg, path, err, errlen) < 0)
        return -1;
    if (read_file(path, &buf, &len, err, errlen) < 0) {
        free(buf);
        return -1;
    }
    rc = load_text(cfg, path, buf, len, err, errlen);
    free(buf);
    return rc;
}

int config_load_buffer(struct ecc_config *cfg, const char *name, const char *buf, size_t len,
                       char *err, size_t errlen)
{
    config_defaults(cfg);
    if (set_path(cfg, name, err, errlen) < 0)
        return -1;
    return load_text(cfg, name, buf, len, err, errlen);
}

static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

int config_set(struct ecc_config *cfg, const char *assignment, char *err, size_t errlen)
{
    struct load_ctx c = {.cfg = cfg, .file = "--set", .err = err, .errlen = errlen};
    char buf[512], *eq, *dot, *section, *key;

    if (!assignment || strlen(assignment) >= sizeof buf)
        return say(err, errlen, NULL, -1,
                   "assignment is too long (allowed: at most %zu characters)", sizeof buf - 1);
    memcpy(buf, assignment, strlen(assignment) + 1);
    eq = strchr(buf, '=');
    dot = strchr(buf, '.');
    if (eq)
        *eq = '\0';
    if (dot && eq && dot < eq)
        *dot = '\0';
    section = trim(buf);
    key = dot && eq && dot < eq ? trim(dot + 1) : NULL;
    if (!key || !*section || !*key)
        return say(err, errlen, NULL, -1, "\"%s\" is not section.key=value", assignment);
    return apply(&c, section, key, trim(eq + 1), -1);
}

/* ---- cross-field checks -------------------------------------------------------------- */

struct cfg_rule {
    size_t a, b;      /* offsets of two double fields: a < b (strict) or a <= b must hold */
    bool strict;
};

#define RULE(a, b, strict) {offsetof(struct ecc_config, a), offsetof(struct ecc_config, b), strict}

static const struct cfg_rule rules[] = {
    RULE(band.force_low, band.force_high, true),
    RULE(rep.release_n, rep.contact_n, true),
    RULE(rep.contact_n, band.force_low, true),
    RULE(rep.release_n, control.engage_n, true),
    RULE(control.engage_n, band.force_low, true),
    RULE(band.force_high, limits.force_abort, true),
    RULE(limits.speed_min, control.start_speed, false),
    RULE(control.start_speed, limits.speed_max, false),
    RULE(limits.speed_min, control.fixed_speed, false),
    RULE(control.fixed_speed, limits.speed_max, false),
    RULE(limits.speed_min, limits.speed_max, true),
    RULE(limits.loop_late_s, limits.loop_stall_s, true),
};

static int key_of_double(size_t offset)
{
    for (int i = 0; i < NKEYS; i++)
        if (keys[i].offset == offset && keys[i].type == T_DOUBLE)
            return i;
    return -1;
}

/* Later wins: a default (0) is earliest, --set (-1) is latest. */
static int rank(int line)
{
    return line < 0 ? INT_MAX : line;
}

static void origin(int line, char *buf, size_t n)
{
    if (line > 0)
        snprintf(buf, n, "line %d", line);
    else
        snprintf(buf, n, "%s", line < 0 ? "--set" : "default");
}

static int check_rule(const struct ecc_config *cfg, const struct cfg_rule *r, char *err,
                      size_t errlen)
{
    static const char *const relation[2][2] = {{"at most", "less than"},
                                               {"at least", "greater than"}};
    int ia = key_of_double(r->a), ib = key_of_double(r->b), blame, other, late_b;
    char vb[32], vo[32], from[32];
    double a, b;

    if (ia < 0 || ib < 0)
        return say(err, errlen, cfg->path, 0, "internal error: cross-field rule on unknown key");
    a = *(const double *)cfield_of(cfg, &keys[ia]);
    b = *(const double *)cfield_of(cfg, &keys[ib]);
    if (r->strict ? a < b : a <= b)
        return 0;
    late_b = rank(cfg->key_line[ib]) >= rank(cfg->key_line[ia]);
    blame = late_b ? ib : ia;
    other = late_b ? ia : ib;
    format_key(&keys[blame], cfg, vb, sizeof vb);
    format_key(&keys[other], cfg, vo, sizeof vo);
    origin(cfg->key_line[other], from, sizeof from);
    return say(err, errlen, cfg->path[0] ? cfg->path : "defaults", cfg->key_line[blame],
               "[%s] %s: %s must be %s [%s] %s = %s (%s)", keys[blame].section, keys[blame].key,
               vb, relation[late_b][r->strict], keys[other].section, keys[other].key, vo, from);
}

/* A belt sensor with few pulses per metre pulses rarely at the slowest speed. If that
 * gap is longer than the time after which the speed reads zero (encoder.timeout_s) or a
 * silent sensor is a fault (limits.speed_silent_s), the belt would read stopped, or
 * fault, while it runs correctly at speed_min. */
static int check_pulse_gap(const struct ecc_config *cfg, const char *key, double limit_s,
                           char *err, size_t errlen)
{
    double gap = 1.0 / (cfg->encoder.pulses_per_m * cfg->limits.speed_min);
    int k = find_key(strcmp(key, "timeout_s") ? "limits" : "encoder", key);

    if (cfg->encoder.type == CFG_ENCODER_DRIVE || limit_s > gap)
        return 0;
    return say(err, errlen, cfg->path[0] ? cfg->path : "defaults", cfg->key_line[k],
               "[%s] %s: %g s must be longer than the %.2f s between belt pulses at "
               "[limits] speed_min_mps = %g with [encoder] pulses_per_m = %g, or the belt "
               "reads stopped while it runs (allowed: more than %.2f s)",
               keys[k].section, key, limit_s, gap, cfg->limits.speed_min,
               cfg->encoder.pulses_per_m, gap);
}

/* The HX711 has three gains, nothing in between. */
/* A charge pump changes level on loop ticks: at most one edge a tick. */
static int check_pump(const struct ecc_config *cfg, char *err, size_t errlen)
{
    int k = find_key("inputs", "pump_hz");

    if (cfg->inputs.enable_mode != CFG_ENABLE_CHARGE_PUMP ||
        cfg->inputs.pump_hz <= cfg->loop.rate_hz / 2.0)
        return 0;
    return say(err, errlen, cfg->path[0] ? cfg->path : "defaults", cfg->key_line[k],
               "[inputs] pump_hz: %g must be at most [loop] rate_hz / 2 = %g (the output changes "
               "level on control ticks only)", cfg->inputs.pump_hz, cfg->loop.rate_hz / 2.0);
}

static int check_hx711_gain(const struct ecc_config *cfg, char *err, size_t errlen)
{
    int g = cfg->loadcell.hx711_gain, k = find_key("loadcell", "hx711_gain");

    if (g == 128 || g == 64 || g == 32)
        return 0;
    return say(err, errlen, cfg->path[0] ? cfg->path : "defaults", cfg->key_line[k],
               "[loadcell] hx711_gain: %d is not a gain the HX711 has (allowed: 128, 64, 32)", g);
}

/* ---- GPIO lines: each used once per chip ---------------------------------------------- */

#define GPIO_USES_MAX 10

struct gpio_use {
    const char *chip, *section, *key;
    int line;
};

static void gpio_add(struct gpio_use *u, int *n, const char *chip, const char *section,
                     const char *key, int line)
{
    if (line >= 0 && *n < GPIO_USES_MAX)
        u[(*n)++] = (struct gpio_use){chip, section, key, line};
}

/* The lines the parts in use take (a part not in use takes none). */
static int gpio_uses(const struct ecc_config *cfg, struct gpio_use *u)
{
    const char *ic = cfg->inputs.chip;
    int n = 0;

    if (cfg->encoder.type == CFG_ENCODER_GPIO) {
        gpio_add(u, &n, cfg->encoder.chip, "encoder", "line", cfg->encoder.line);
        gpio_add(u, &n, cfg->encoder.chip, "encoder", "line_b", cfg->encoder.line_b);
    }
    if (cfg->loadcell.type == CFG_LOADCELL_HX711) {
        gpio_add(u, &n, cfg->loadcell.hx711_chip, "loadcell", "hx711_sck_line",
                 cfg->loadcell.hx711_sck_line);
        gpio_add(u, &n, cfg->loadcell.hx711_chip, "loadcell", "hx711_dout_line",
                 cfg->loadcell.hx711_dout_line);
    }
    if (cfg->inputs.type == CFG_INPUTS_GPIO) {
        gpio_add(u, &n, ic, "inputs", "estop_line", cfg->inputs.estop_line);
        gpio_add(u, &n, ic, "inputs", "key_line", cfg->inputs.key_line);
        gpio_add(u, &n, ic, "inputs", "start_line", cfg->inputs.start_line);
        gpio_add(u, &n, ic, "inputs", "stop_line", cfg->inputs.stop_line);
        gpio_add(u, &n, ic, "inputs", "next_line", cfg->inputs.next_line);
        gpio_add(u, &n, ic, "inputs", "enable_line", cfg->inputs.enable_line);
    }
    return n;
}

/* Two parts on one line would fight over it (an e-stop read on the HX711's clock line never
 * says "stop"): refused, naming the key set last. */
static int check_gpio_lines(const struct ecc_config *cfg, char *err, size_t errlen)
{
    struct gpio_use u[GPIO_USES_MAX];
    int n = gpio_uses(cfg, u);

    for (int j = 1; j < n; j++) {
        for (int i = 0; i < j; i++) {
            if (u[i].line != u[j].line || strcmp(u[i].chip, u[j].chip) != 0)
                continue;
            return say(err, errlen, cfg->path[0] ? cfg->path : "defaults",
                       cfg->key_line[find_key(u[j].section, u[j].key)],
                       "[%s] %s: GPIO line %d of %s is already [%s] %s "
                       "(allowed: each line used by one part)", u[j].section, u[j].key,
                       u[j].line, u[j].chip, u[i].section, u[i].key);
        }
    }
    return 0;
}

/* drive.profile = huanyang-hy speaks the HY series' own framing on RS-485 (not Modbus): on
 * a serial line only, and a line of its own (a Modbus transmitter cannot share it). */
static int check_hy(const struct ecc_config *cfg, char *err, size_t errlen)
{
    const char *file = cfg->path[0] ? cfg->path : "defaults";

    if (strcmp(cfg->drive.profile, CFG_PROFILE_HY) != 0)
        return 0;
    if (cfg->drive.type == CFG_DRIVE_MODBUS_TCP)
        return say(err, errlen, file, cfg->key_line[find_key("drive", "profile")],
                   "[drive] profile: %s speaks the HY's own framing on RS-485, not Modbus TCP "
                   "(a gateway cannot pass it on): set [drive] type = modbus-rtu with device, "
                   "baud and parity as the drive's PD164 and PD165 (allowed with modbus-tcp: "
                   "delta-vfd, optidrive-e3, huanyang-gt, generic)", CFG_PROFILE_HY);
    if (cfg->drive.type != CFG_DRIVE_MODBUS_RTU || cfg->loadcell.type != CFG_LOADCELL_MODBUS)
        return 0;
    if (cfg->loadcell.link == CFG_LC_LINK_DRIVE)
        return say(err, errlen, file, cfg->key_line[find_key("loadcell", "link")],
                   "[loadcell] link: drive: a %s drive's line carries the HY's framing, not "
                   "Modbus: give the transmitter a link of its own (allowed: rtu on another "
                   "serial device, tcp)", CFG_PROFILE_HY);
    if (cfg->loadcell.link == CFG_LC_LINK_RTU && !strcmp(cfg->loadcell.device, cfg->drive.device))
        return say(err, errlen, file, cfg->key_line[find_key("loadcell", "device")],
                   "[loadcell] device: %s is the %s drive's line, which carries the HY's "
                   "framing, not Modbus (allowed: another serial device)", cfg->loadcell.device,
                   CFG_PROFILE_HY);
    return 0;
}

/* [web]: an address eccweb can bind, and a certificate only with its key. */
static int check_web(const struct ecc_config *cfg, char *err, size_t errlen)
{
    const char *file = cfg->path[0] ? cfg->path : "defaults";
    unsigned char addr[16];

    if (inet_pton(AF_INET, cfg->web.listen, addr) != 1 &&
        inet_pton(AF_INET6, cfg->web.listen, addr) != 1)
        return say(err, errlen, file, cfg->key_line[find_key("web", "listen")],
                   "[web] listen: %s is not an IP address (allowed: 127.0.0.1 or ::1 for this "
                   "machine only, an address of the rig, 0.0.0.0 or :: for every network; "
                   "names are not looked up)", cfg->web.listen);
    if (!cfg->web.tls_cert[0] != !cfg->web.tls_key[0])
        return say(err, errlen, file,
                   cfg->key_line[find_key("web", cfg->web.tls_cert[0] ? "tls_cert" : "tls_key")],
                   "[web] %s is set but %s is empty: HTTPS needs both the certificate and its "
                   "private key (allowed: both set, or both empty for plain HTTP)",
                   cfg->web.tls_cert[0] ? "tls_cert" : "tls_key",
                   cfg->web.tls_cert[0] ? "tls_key" : "tls_cert");
    return 0;
}

int config_check(const struct ecc_config *cfg, char *err, size_t errlen)
{
    if (check_hx711_gain(cfg, err, errlen) < 0 || check_gpio_lines(cfg, err, errlen) < 0 ||
        check_hy(cfg, err, errlen) < 0 || check_pump(cfg, err, errlen) < 0 ||
        check_web(cfg, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (check_rule(cfg, &rules[i], err, errlen) < 0)
            return -1;
    if (check_pulse_gap(cfg, "timeout_s", cfg->encoder.timeout_s, err, errlen) < 0 ||
        check_pulse_gap(cfg, "speed_silent_s", cfg->limits.speed_silent_s, err, errlen) < 0)
        return -1;
    return 0;
}

/* ---- printing ----------------------------------------------------------------------- */

static void print_key(const struct cfg_key *k, const struct ecc_config *cfg,
                      const struct ecc_config *def, FILE *out)
{
    char value[CFG_PATH_MAX], dvalue[CFG_PATH_MAX], allowed[256], line[512], note[512];
    size_t len = 0;

    format_key(k, cfg, value, sizeof value);
    format_key(k, def, dvalue, sizeof dvalue);
    type_ops[k->type].allowed(k, allowed, sizeof allowed);
    note[0] = '\0';
    append(note, sizeof note, &len, "; %s%s%s (allowed: %s)", k->unit, *k->unit ? ", " : "",
           k->help, allowed);
    if (strcmp(value, dvalue))
        append(note, sizeof note, &len, " (default: %s)", *dvalue ? dvalue : "empty");
    snprintf(line, sizeof line, "%s = %s", k->key, value);
    /* The width as printed (key and value padded to 32 columns): a longer line would not
     * load back (inih's line buffer). */
    if ((strlen(line) < 32 ? 32 : strlen(line)) + 1 + strlen(note) > CFG_PRINT_WIDTH)
        fprintf(out, "%s\n%s\n", note, line);
    else
        fprintf(out, "%-32s %s\n", line, note);
}

void config_print(const struct ecc_config *cfg, FILE *out)
{
    struct ecc_config def;

    config_defaults(&def);
    fprintf(out, "; eccd configuration%s%s\n", cfg->path[0] ? ", loaded from " : " (defaults)",
            cfg->path);
    fprintf(out, "; Every key with its value; unit, help and allowed range in the comment.\n"
                 "; Units are SI: m, s, N, m/s, m/s^2, Hz. This file loads as it is.\n");
    for (int i = 0; i < NKEYS; i++) {
        if (i == 0 || strcmp(keys[i].section, keys[i - 1].section))
            fprintf(out, "\n[%s]\n", keys[i].section);
        print_key(&keys[i], cfg, &def, out);
    }
}

/* ---- paths, names, the table ------------------------------------------------------------ */

int config_resolve_path(const struct ecc_config *cfg, const char *rel, char *out, size_t outlen)
{
    const char *slash = strrchr(cfg->path, '/');
    int dirlen = slash ? (int)(slash - cfg->path) : 0;
    int n;

    if (!rel || !out || outlen == 0) {
        errno = EINVAL;
        return -1;
    }
    if (rel[0] == '/' || rel[0] == '\0' || !slash)
        n = snprintf(out, outlen, "%s", rel);
    else
        n = snprintf(out, outlen, "%.*s/%s", dirlen, dirlen ? cfg->path : "", rel);
    if (n < 0 || (size_t)n >= outlen) {
        out[0] = '\0';
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

const char *config_mode_name(enum cfg_mode m)
{
    return (int)m >= 0 && (int)m <= CFG_MODE_REACTIVE ? mode_names[m] : "?";
}

int config_key_count(void)
{
    return NKEYS;
}

int config_key_bounds(const char *section, const char *key, double *min, double *max,
                      const char **unit)
{
    int i = find_key(section, key);

    if (i < 0 || (keys[i].type != T_DOUBLE && keys[i].type != T_INT && keys[i].type != T_UINT))
        return -1;
    *min = keys[i].min;
    *max = keys[i].max;
    *unit = keys[i].unit ? keys[i].unit : "";
    return 0;
}

void config_key_name(int i, const char **section, const char **key)
{
    bool ok = i >= 0 && i < NKEYS;

    if (section)
        *section = ok ? keys[i].section : NULL;
    if (key)
        *key = ok ? keys[i].key : NULL;
}
