/* patient.h - the simulated patient over the twelve weeks: when it comes, what it says.
 *
 * The athlete (athlete.h) performs the strokes; the patient drives it by the clock when
 * its scenario sets programme_days: each day a morning score at morning_h, sessions at
 * session1_h and session2_h (UTC on the simulated wall clock), a pain score a few seconds
 * after each set, and days or sessions skipped by chance (skip_day_prob, skip_prob). Its
 * tendon has a tolerance (N of true peak force):
 *     over  = max(0, L / tolerance - 1)          L: the set's mean true peak force
 *     pain  = pain_base + 10 pain_gain over + N(0, pain_noise), 0..10, rounded
 *     after a session: within the tolerance (over <= 5%) it grows by tolerance_growth;
 *                      above, it shrinks by overload_loss x over and the tendon is
 *                      irritated by 10 irritation_gain x over (morning points)
 *     morning = morning_base + irritation + N(0, morning_noise), 0..10, rounded; the
 *               irritation decays by irritation_decay a day
 * so a tolerant patient's pain stays low while the band climbs, an irritable one's pain
 * answers the load and its mornings climb, and a non-adherent one misses sessions.
 *
 * Its check-ins reach eccd as the sim backend's HAL check-ins (hal.h), the way a patient's
 * entries reach it from the page or eccctl. Deterministic for a seed; nothing here reads a
 * clock. Times are the rig's (s from 0); wall_start maps them onto UTC.
 */
#ifndef ECC_PATIENT_H
#define ECC_PATIENT_H

#include <stdbool.h>

#include "sim/athlete.h"

enum patient_checkin { PATIENT_PAIN = 0, PATIENT_MORNING };

struct patient_checkin_rec {
    enum patient_checkin kind;
    int score;
    double t;                   /* s, rig time it was entered */
};

struct patient;

/* NULL when params->programme_days is 0 (no programme patient) or out of memory. */
struct patient *patient_open(const struct athlete_params *params, unsigned seed,
                             double wall_start);
void patient_close(struct patient *p);

/* Earliest rig time > t at which the patient has something to do (INFINITY: nothing). */
double patient_next_event(const struct patient *p, double t);
/* Do what is due at rig time t with its athlete. */
void patient_step(struct patient *p, double t, struct athlete *a);
/* Take the oldest check-in not taken yet; false when none. */
bool patient_take(struct patient *p, struct patient_checkin_rec *out);

/* What happened, for tests and reports. */
struct patient_stats {
    int days, sessions_planned, sessions_skipped, sessions_come;
    int pains, mornings;
    double tolerance_n, irritation;
};
void patient_stats(const struct patient *p, struct patient_stats *st);

#endif
