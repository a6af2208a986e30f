/* syncrow.c - the replicated tables and their columns (see syncrow.h). */
#include "sync/syncrow.h"

#include <string.h>

#define I(n) {n, SV_INT}
#define R(n) {n, SV_REAL}
#define T(n) {n, SV_TEXT}

const struct sync_table_def sync_tables[ST_COUNT] = {
    [ST_PATIENTS] = {"patients", false, 7,
                     {T("uuid"), T("name"), R("created"), R("force_low"), R("force_high"),
                      R("speed_max"), R("force_abort")}},
    [ST_PROGRAMMES] = {"programmes", false, 16,
                       {T("patient_uuid"), R("start"), I("weeks"), I("sessions_per_day"),
                        I("sets"), I("reps"), R("band_low"), R("band_high"), R("step_share"),
                        R("floor_n"), R("ceiling_n"), I("locked"), R("baseline"), I("level"),
                        R("last_change"), R("updated")}},
    [ST_SESSIONS] = {"sessions", true, 8,
                     {I("local_id"), T("patient_uuid"), R("started"), R("ended"), T("status"),
                      I("resumes"), R("band_low"), R("band_high")}},
    [ST_SETS] = {"sets", true, 11,
                 {I("local_id"), I("session_id"), I("n"), R("started"), R("ended"),
                  I("counted"), I("rejected"), R("in_band_share"), I("pain"), R("pain_t"),
                  R("duration_s")}},
    [ST_REPS] = {"reps", true, 13,
                 {I("local_id"), I("set_id"), I("n"), I("stroke"), R("t"), R("duration_s"),
                  R("travel_m"), R("peak_n"), R("mean_n"), R("in_band_s"), R("in_band_share"),
                  R("work_j"), R("window_s")}},
    [ST_REJECTS] = {"rejects", true, 13,
                    {I("local_id"), I("set_id"), I("stroke"), R("t"), T("verdict"),
                     R("duration_s"), R("travel_m"), R("peak_n"), R("mean_n"), R("in_band_s"),
                     R("in_band_share"), R("work_j"), R("window_s")}},
    [ST_FAULTS] = {"faults", true, 7,
                   {I("local_id"), I("session_id"), R("t"), T("fault"), R("value"),
                    R("limit_value"), R("reset_t")}},
    [ST_CALIBRATIONS] = {"calibrations", true, 6,
                         {I("local_id"), R("t"), T("kind"), R("offset"), R("scale"),
                          R("mass_kg")}},
    [ST_CHECKINS] = {"checkins", true, 6,
                     {I("local_id"), T("patient_uuid"), R("t"), T("kind"), R("score"),
                      T("instrument")}},
    [ST_PROGRESSION] = {"progression", true, 10,
                        {I("local_id"), T("patient_uuid"), I("session_id"), R("t"), T("kind"),
                         I("level_from"), I("level_to"), R("band_low"), R("band_high"),
                         T("reason")}},
};

int sync_table_find(const char *name)
{
    for (int i = 0; i < ST_COUNT; i++)
        if (name && strcmp(name, sync_tables[i].name) == 0)
            return i;
    return -1;
}
