/* config.h - eccd's configuration: one typed struct, loaded from INI with inih.
 *
 * Every section and key is declared once, in the table in config.c, with its type,
 * bounds, default, unit and one line of help. Loading is strict: unknown sections or
 * keys, malformed numbers, out-of-range values and contradictory values are refused
 * with a message of the form
 *     FILE:LINE: [section] key: what is wrong (allowed: RANGE)
 * and nothing starts. Values set on the command line (--set section.key=value) go
 * through the same checks and are reported as "--set:" instead of FILE:LINE.
 *
 * Units are SI throughout: metres, seconds, newtons, m/s, m/s^2, Hz.
 */
#ifndef ECC_CONFIG_H
#define ECC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Hard bounds compiled in: no config value can go beyond these. */
#define CFG_SPEED_CAP_MPS 0.83   /* 3 km/h: the fastest any command path may ask for */
#define CFG_FORCE_CAP_N 1000.0   /* the largest load cell eccd is sized for */
#define CFG_PATH_MAX 256
#define CFG_KEYS_MAX 256         /* room in key_line[] for every key of the table */

enum cfg_backend { CFG_BACKEND_SIM = 0, CFG_BACKEND_HW };
enum cfg_mode { CFG_MODE_CONTINUOUS = 0, CFG_MODE_FIXED, CFG_MODE_REACTIVE };
enum cfg_log_level { CFG_LOG_ERROR = 0, CFG_LOG_WARN, CFG_LOG_INFO, CFG_LOG_DEBUG };
enum cfg_drive_type { CFG_DRIVE_SIM = 0, CFG_DRIVE_MODBUS_RTU, CFG_DRIVE_MODBUS_TCP, CFG_DRIVE_PWM };
/* The drive.profile that is not Modbus: the Huanyang HY series' own framing, on a serial
 * line of its own (config_check refuses it over TCP or sharing its line). */
#define CFG_PROFILE_HY "huanyang-hy"
enum cfg_encoder_type { CFG_ENCODER_SIM = 0, CFG_ENCODER_GPIO, CFG_ENCODER_DRIVE };
enum cfg_loadcell_type { CFG_LOADCELL_SIM = 0, CFG_LOADCELL_HX711, CFG_LOADCELL_IIO, CFG_LOADCELL_MODBUS };
enum cfg_inputs_type { CFG_INPUTS_SIM = 0, CFG_INPUTS_GPIO, CFG_INPUTS_NONE };
enum cfg_parity { CFG_PARITY_NONE = 0, CFG_PARITY_EVEN, CFG_PARITY_ODD };
enum cfg_stop_mode { CFG_STOP_RAMP = 0, CFG_STOP_COAST };
enum cfg_enable_mode { CFG_ENABLE_LEVEL = 0, CFG_ENABLE_CHARGE_PUMP };
enum cfg_lc_link { CFG_LC_LINK_DRIVE = 0, CFG_LC_LINK_RTU, CFG_LC_LINK_TCP };
enum cfg_reg_kind { CFG_REG_HOLDING = 0, CFG_REG_INPUT };
enum cfg_data_type { CFG_DT_INT16 = 0, CFG_DT_UINT16, CFG_DT_INT32, CFG_DT_UINT32, CFG_DT_FLOAT32 };
enum cfg_word_order { CFG_WORDS_BIG = 0, CFG_WORDS_LITTLE };
enum cfg_bias { CFG_BIAS_AS_IS = 0, CFG_BIAS_PULL_UP, CFG_BIAS_PULL_DOWN };

struct ecc_config {
    char path[CFG_PATH_MAX];        /* file it was loaded from ("" if defaults only) */
    int key_line[CFG_KEYS_MAX];      /* where each key (by table index in config.c) was set:
                                        a file line, 0 for the default, -1 for --set */

    struct {                         /* [rig] */
        enum cfg_backend backend;    /* sim: in-process simulated rig; hw: drive/encoder/... sections */
    } rig;

    struct {                         /* [loop] */
        int rate_hz;                 /* control loop rate, Hz */
        int rt_priority;             /* SCHED_FIFO priority, 0: none */
        bool lock_memory;            /* mlockall */
    } loop;

    struct {                         /* [limits] safety limits (per patient, inside hard caps) */
        double speed_max;            /* m/s, belt speed never commanded above this */
        double speed_min;            /* m/s, slowest running speed; restart after a stop begins here */
        double accel;                /* m/s^2, slew limit of the commanded speed while running */
        double stop_decel;           /* m/s^2, ramp of the commanded speed when stopping */
        double force_abort;          /* N, filtered force above this latches an over-force stop */
        double overspeed_margin;     /* fraction over speed_max the measured speed may reach */
        double force_stale_s;        /* s, no new load-cell sample for this long: fault */
        double speed_silent_s;       /* s, no belt pulse for this long while commanded to move: fault */
        double speed_disagree_mps;   /* m/s, belt sensor and drive may differ by this much */
        double speed_disagree_s;     /* s, ... for at most this long before it is a fault */
        double force_stuck_s;        /* s, a load cell whose reading never changes for this long */
        double force_negative_n;     /* N, a raw reading below minus this is implausible */
        double loop_late_s;          /* s, a control tick this late is a late tick */
        double loop_stall_s;         /* s, one tick this late is a fault */
        int loop_late_burst;         /* late ticks within SAFETY_LATE_WINDOW_S: a fault */
        double force_drift_n;        /* N, the unloaded reading may wander this far from zero */
        double force_drift_s;        /* s, ... judged over windows this long during a set */
    } limits;

    struct {                         /* [band] the eccentric force target band */
        double force_low;            /* N */
        double force_high;           /* N */
    } band;

    struct {                         /* [control] */
        enum cfg_mode mode;          /* continuous (closed loop), fixed (constant speed) or
                                        reactive (closed loop, belt moves only while loaded) */
        double start_speed;          /* m/s, speed a set starts at (continuous mode) */
        double fixed_speed;          /* m/s, the belt speed in fixed mode */
        double kp;                   /* (m/s)/N, proportional gain on the band error */
        double ki;                   /* (m/s)/(N s), integral gain on the band error */
        double engage_timeout_s;     /* s, after contact, act even if force never reached the band */
        double release_rollback_s;   /* s, on release undo the integral of the last this-many s */
        double hold_margin;          /* share of the band width at each edge where the speed is
                                        still corrected; it is held only in the middle */
        double engage_n;             /* N, reactive: the belt moves only while the foot load is
                                        above this (release_n < engage_n < force_low) */
        double lead_margin;          /* m/s, the command never runs further ahead of the
                                        measured belt speed than this */
        bool adapt;                  /* steer by the learned force-speed model (fv_model.h);
                                        false: the plain band PI alone */
        double slope;                /* N/(m/s), the force-speed slope the model starts from */
        double target;               /* where in the band the model aims, 0 floor .. 1 top */
        double force_delay_s;        /* s, belt speed to foot force delay (reaction, filter) */
    } control;

    struct {                         /* [filter] force filter */
        bool spike_reject;           /* median-of-3 drops single-sample spikes */
        double cutoff_hz;            /* Hz, first-order low-pass corner */
    } filter;

    struct {                         /* [rep] rep detection and validity */
        double contact_n;            /* N, stroke starts when filtered force rises above this */
        double release_n;            /* N, stroke ends when it falls below this (< contact_n) */
        double min_stroke_s;         /* s, shortest stroke that counts */
        double min_travel_m;         /* m, least belt travel under load that counts */
        double min_in_band;          /* 0..1, least share of the stroke's loaded window inside
                                        the band */
        double landing_s;            /* s, after contact the foot is still landing: the loaded
                                        window judged for the band starts this much later */
    } rep;

    struct {                         /* [protocol] */
        int reps_per_set;
        int sets_per_session;
        double rest_s;               /* s, rest between sets (belt stopped) */
        int sessions_per_day;        /* the day's rule (controller/schedule.h) */
        double min_gap_h;            /* h, from one session's end to the next's start */
        double day_start_h;          /* h, local time a protocol day begins */
        bool allow_extra_sessions;   /* the clinician allows more than sessions_per_day */
    } protocol;

    struct {                         /* [progression]: the programme's rules
                                        (controller/progression.h, docs/programme.md) */
        double pain_stop;            /* a set's pain above this ends the session, steps down */
        double morning_rise;         /* a morning this far above baseline steps down */
        double up_in_band;           /* a step up: every set's strict time in band >= this */
        double up_pain_max;          /* ... and its pain <= this */
        double adherence_flag;       /* sessions done under this share of the plan: flag */
    } progression;

    struct {                         /* [drive] */
        enum cfg_drive_type type;
        char profile[64];            /* drive profile name (modbus types) */
        char device[CFG_PATH_MAX];   /* serial device (modbus-rtu) or pwm chip path */
        int baud;                    /* modbus-rtu */
        char host[128];              /* modbus-tcp */
        int port;                    /* modbus-tcp */
        int unit_id;                 /* modbus slave id */
        double hz_per_mps;           /* motor Hz per m/s of belt speed */
        int pwm_channel;             /* pwm: channel of the chip at drive.device */
        double pwm_period_ms;        /* pwm: period (MC-2100 boards: 50 ms, 20 Hz) */
        double pwm_max_duty;         /* pwm: duty never above this share */
        char pwm_table[CFG_PATH_MAX];/* pwm: "speed:duty,..." from calibration, m/s : share */
        enum cfg_parity parity;      /* modbus-rtu framing */
        int data_bits, stop_bits;
        double max_hz;               /* Hz, the drive's maximum frequency (percent setpoints) */
        int min_gap_ms;              /* ms, quiet time the drive needs between requests */
        int timeout_ms;              /* ms, response timeout */
        int retries;                 /* retries of a failed transaction before it counts */
        int healthy_after;           /* good transactions in a row before the link is healthy */
        int fail_after;              /* failed transactions in a row that latch comm loss */
        double watchdog_s;           /* s, the drive's own comm-loss stop time (set in the drive) */
        enum cfg_stop_mode stop_mode;/* how the drive stops on a fault: ramp or coast */
        double accel_time_s;         /* s, the drive's own ramp from 0 to max_hz (its parameter) */
        double decel_time_s;         /* s, the drive's own ramp from max_hz to 0 */
        double dead_time_s;          /* s, from a setpoint write until the belt follows */
    } drive;

    struct {                         /* [profile] the register map when drive.profile = generic */
        int address_base;            /* 0, or 1 when the manual numbers registers from 1 */
        int read_fc, write_fc;       /* 3 or 4; 6 or 16 */
        int reg_command, cmd_run, cmd_stop, cmd_coast;
        int reg_reset, cmd_reset;
        int reg_setpoint;
        bool setpoint_percent;
        double setpoint_scale;       /* raw per Hz (or per %) */
        int reg_freq;
        double freq_scale;           /* raw per Hz */
        int reg_current;             /* -1: none */
        double current_scale;        /* raw per A */
        int reg_status, reg_fault;   /* -1: none */
    } profile;

    struct {                         /* [encoder] belt speed sensor */
        enum cfg_encoder_type type;
        double pulses_per_m;         /* pulses per metre of belt travel */
        double timeout_s;            /* s, speed estimate reads zero after this long without a pulse */
        char chip[64];               /* gpio chip (gpio type) */
        int line;                    /* gpio line offset (gpio type) */
        int line_b;                  /* quadrature B line (-1: one channel, no direction) */
        enum cfg_bias bias;          /* pull on the pulse line(s) */
    } encoder;

    struct {                         /* [loadcell] */
        enum cfg_loadcell_type type;
        double scale;                /* N per raw count */
        double offset;               /* raw counts at zero load (tare) */
        double rate_hz;              /* Hz, sample rate */
        enum cfg_lc_link link;       /* modbus: share the drive's bus, or a link of its own */
        char device[CFG_PATH_MAX];   /* link = rtu */
        int baud;
        enum cfg_parity parity;
        char host[128];              /* link = tcp */
        int port;
        int unit_id;
        int reg;                     /* register holding the reading (wire address) */
        enum cfg_reg_kind reg_kind;
        enum cfg_data_type data_type;
        enum cfg_word_order word_order;  /* 32-bit values: high word first (big) or last */
        int tare_reg;                /* -1: tare in software (offset) */
        int tare_value;
        double full_scale_n;         /* N, readings at or beyond this are saturated */
        double span_change_max;      /* share a span may change the scale by unconfirmed */
        char hx711_chip[64];         /* hx711: gpio chip */
        int hx711_sck_line;          /* hx711: PD_SCK output line */
        int hx711_dout_line;         /* hx711: DOUT input line */
        int hx711_gain;              /* hx711: 128 or 64 (channel A) or 32 (channel B) */
        char iio_device[CFG_PATH_MAX];   /* iio: the device's sysfs directory */
        char iio_channel[64];        /* iio: the raw value file in it (in_voltage0_raw) */
        char calibration[CFG_PATH_MAX];  /* file where tare and span are kept ("": none) */
    } loadcell;

    struct {                         /* [inputs] e-stop, safety key, buttons */
        enum cfg_inputs_type type;
        char chip[64];
        int estop_line;              /* -1: not wired */
        int key_line;                /* -1: not wired */
        int start_line;              /* -1: not wired */
        int stop_line;               /* -1: not wired */
        int next_line;               /* -1: not wired */
        bool active_low;             /* buttons read 0 when pressed */
        int estop_ok_level;          /* level the e-stop and key lines read when all is well:
                                        anything else, a broken wire too, reads as stopped */
        enum cfg_bias bias;          /* pull on the input lines */
        int debounce_ms;             /* ms a level must hold before it counts */
        int enable_line;             /* drive-enable output, held only while eccd is healthy
                                        and ticking (-1: not wired) */
        bool enable_active_high;
        enum cfg_enable_mode enable_mode;    /* held level, or a charge pump's square wave */
        double pump_hz;              /* charge_pump: Hz of the square wave */
    } inputs;

    struct {                         /* [sim] the simulated rig (rig.backend = sim) */
        char scenario[CFG_PATH_MAX]; /* athlete scenario INI; relative paths are taken from the
                                        directory of the config file */
        unsigned seed;               /* random seed: same seed, same run */
        double speed;                /* 0: as fast as possible; else wall-clock factor (1 = real time) */
        double loadcell_rate_hz;     /* Hz */
        double loadcell_noise_n;     /* N, standard deviation of the load-cell noise */
        double loadcell_resolution_n;/* N, quantisation step */
        double drive_accel;          /* m/s^2, the simulated drive's own ramp */
        double drive_dead_s;         /* s, the simulated drive answers a setpoint this late */
        double slip;                 /* (m/s)/N, belt slows this much per newton of foot load */
        double encoder_scale;        /* the simulated sensor really pulses this many times
                                        encoder.pulses_per_m (fault injection; 1 = true) */
        char truth_log[CFG_PATH_MAX];/* JSON-lines file of the athlete's strokes ("" = none) */
        double wall_start;           /* UTC s since 1970 at virtual time 0 */
        bool skip_quiet;             /* the loop may jump quiet stretches (hal_clock) */
    } sim;

    struct {                         /* [eccsim] the simulated rig served over Modbus */
        char listen[128];            /* TCP address to listen on */
        int tcp_port;                /* 0: no TCP */
        char pty_link[CFG_PATH_MAX]; /* symlink made to the RTU pseudo-terminal ("": none) */
        bool pace_bytes;             /* RTU: send each byte at the baud rate's pace */
        int trip_code;               /* fault code a scripted drive trip shows */
        char truth_csv[CFG_PATH_MAX];/* belt speed over time ("" = none) */
    } eccsim;

    struct {                         /* [history] */
        char path[CFG_PATH_MAX];     /* SQLite file ("" = no history) */
        int queue_len;               /* events queued for the writer */
    } history;

    struct {                         /* [sync]: eccsync, the clinic's database (docs/fleet.md) */
        char rig_id[64];             /* this rig's name in the clinic ("" = no replication) */
        char credentials[CFG_PATH_MAX];  /* libpq connection string file, mode 0600 */
        int batch_rows;              /* rows per transaction */
        double interval_s;           /* look for new rows this often once caught up */
        double retry_max_s;          /* longest wait between attempts to reach the server */
        double pull_s;               /* bring back the clinic's patients this often (0: never) */
        bool require_tls;            /* TCP only with sslmode=verify-full */
    } sync;

    struct {                         /* [server] eccctl's socket */
        char socket[CFG_PATH_MAX];   /* "" = none */
        char owner[64];              /* user name or number ("" = eccd's) */
        char group[64];              /* group name or number ("" = eccd's) */
        int max_clients;             /* connections at once (one more in reserve) */
        int clients_per_user;        /* of them, one uid's */
        double idle_timeout_s;       /* a silent client is dropped after this (0: never) */
        double stall_timeout_s;      /* a client not reading its replies (0: never) */
    } server;

    struct {                         /* [web] eccweb, the patient's page (docs/web.md) */
        char listen[64];             /* address to listen on: 127.0.0.1 (default), ::1, an
                                      * address of the rig, 0.0.0.0 or :: */
        int port;
        int rate_hz;                 /* live events a second to each page */
        bool allow_start;            /* start and next-set from a paired page */
        bool trust_loopback;         /* a page on the rig itself (loopback) needs no pairing */
        char hostnames[CFG_PATH_MAX];/* names the page may be reached by, beside addresses */
        char pin_file[CFG_PATH_MAX]; /* where the pairing PIN is put for eccctl pair */
        double pin_lifetime_s;
        int pin_tries;               /* wrong PINs before pairing locks */
        double pin_lockout_s;
        double session_days;         /* a paired device stays paired this long */
        int max_paired;
        int max_connections;
        int connections_per_ip;
        int idle_timeout_s;
        char tls_cert[CFG_PATH_MAX]; /* PEM; both or neither */
        char tls_key[CFG_PATH_MAX];
    } web;

    struct {                         /* [daemon] */
        char user[64];               /* drop root to this user after opening the hardware */
    } daemon;

    struct {                         /* [log] */
        enum cfg_log_level level;
        char rep_log[CFG_PATH_MAX];  /* JSON-lines rep/fault log ("" = none); --rep-log overrides */
    } log;
};

/* Fill *cfg with every key's default. Always succeeds. */
void config_defaults(struct ecc_config *cfg);

/* Load an INI file on top of defaults (calls config_defaults first), then run the
 * cross-field checks. Returns 0, or -1 with one message in err (see top of file). */
int config_load(struct ecc_config *cfg, const char *path, char *err, size_t errlen);

/* As config_load, from len bytes at buf (need not be NUL-terminated); name stands for the
 * file in messages and relative paths. For tests and the config fuzzer. */
int config_load_buffer(struct ecc_config *cfg, const char *name, const char *buf, size_t len,
                       char *err, size_t errlen);

/* Apply one "section.key=value" override (from --set); same checks as a file line.
 * Call config_check() after the last override. Returns 0 or -1 with err. */
int config_set(struct ecc_config *cfg, const char *assignment, char *err, size_t errlen);

/* Cross-field checks (force_low < force_high, speed_min <= start_speed <= speed_max,
 * release_n < contact_n, ...). The message names the line of the key that made the
 * contradiction. Returns 0 or -1 with err. */
int config_check(const struct ecc_config *cfg, char *err, size_t errlen);

/* Print the effective config as a loadable INI, every key with its value, unit and help. */
void config_print(const struct ecc_config *cfg, FILE *out);

/* Resolve a path from the config (e.g. sim.scenario) against the config file's
 * directory; absolute paths are copied. Returns 0, or -1 if it does not fit. */
int config_resolve_path(const struct ecc_config *cfg, const char *rel, char *out, size_t outlen);

/* Names for enum values, as written in the INI. */
const char *config_mode_name(enum cfg_mode m);

/* The key table, for listings and tests: the number of keys (key_line[] is indexed the
 * same way), and key i's section and name (NULL if i is out of range). */
int config_key_count(void);
void config_key_name(int i, const char **section, const char **key);
/* A number key's inclusive bounds and unit ("" when it has none), for anything that takes
 * the same value by another door (the control socket's patient settings). Returns 0, or
 * -1 when section.key is not a number key. */
int config_key_bounds(const char *section, const char *key, double *min, double *max,
                      const char **unit);

#endif
