/* pgerr.c - link failures told apart from refusals, and their messages (see pgerr.h). */
#include "sync/pgerr.h"

#include <stdio.h>
#include <string.h>

/* SQLSTATEs (or their two-letter classes) after which the same statement may succeed. */
static const char *const retry_states[] = {
    "08",       /* connection exception */
    "53",       /* insufficient resources: too many connections, disk full, out of memory */
    "57P01",    /* admin shutdown */
    "57P02",    /* crash shutdown */
    "57P03",    /* cannot connect now: starting up, recovering */
    "57014",    /* query cancelled: a statement time-out */
    "40001",    /* serialization failure */
    "40P01",    /* deadlock detected */
    "55P03",    /* lock not available */
    "58030",    /* I/O error */
};

static bool state_is_retry(const char *state)
{
    for (size_t i = 0; i < sizeof retry_states / sizeof retry_states[0]; i++)
        if (strncmp(state, retry_states[i], strlen(retry_states[i])) == 0)
            return true;
    return false;
}

bool pgerr_is_link(PGconn *c, const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    if (!c || PQstatus(c) != CONNECTION_OK || !r)
        return true;
    return state && state_is_retry(state);
}

/* What to do about it, where the SQLSTATE says more than the server's message. */
static const char *fix_for(const char *state, bool link)
{
    if (link)
        return "the link to the server failed: reconnect (PQreset) and send it again";
    if (!state)
        return "";
    if (strcmp(state, "42501") == 0)
        return "refused by a privilege or row-level security: a rig writes only under its "
               "own rig_id, as the role pgschema_add_rig bound to it (docs/fleet.md)";
    if (strcmp(state, "3F000") == 0 || strcmp(state, "42P01") == 0 ||
        strcmp(state, "42883") == 0)
        return "the schema is missing or old: run pgschema_migrate as the admin";
    if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
        return "a value the central schema refuses: a bug in what was sent";
    return "";
}

/* Runs of white space (libpq's messages have newlines and tabs) as one space, none at
 * either end. */
static void collapse_space(char *s)
{
    char *out = s;

    for (const char *p = s; *p; p++) {
        bool space = *p == ' ' || *p == '\n' || *p == '\t';
        if (!space)
            *out++ = *p;
        else if (out > s && out[-1] != ' ')
            *out++ = ' ';
    }
    if (out > s && out[-1] == ' ')
        out--;
    *out = '\0';
}

/* The server's words: its primary message and any detail, else the connection's message
 * (libpq's own, for a link that failed), on one line. */
static void server_words(char *text, size_t len, PGconn *c, const PGresult *r)
{
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
    const char *conn = c ? PQerrorMessage(c) : "no connection";

    if (primary)
        snprintf(text, len, "%s%s%s", primary, detail ? " (" : "", detail ? detail : "");
    else
        snprintf(text, len, "%s", *conn ? conn : "no result (out of memory?)");
    if (primary && detail)
        strncat(text, ")", len - strlen(text) - 1);
    collapse_space(text);
}

bool pgerr_say(char *err, size_t errlen, const char *what, PGconn *c, const PGresult *r)
{
    bool link = pgerr_is_link(c, r);
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *fix = fix_for(state, link);
    char text[512];

    server_words(text, sizeof text, c, r);
    if (errlen)
        snprintf(err, errlen, "%s: %s%s%s%s%s%s", what, text, state ? " (SQLSTATE " : "",
                 state ? state : "", state ? ")" : "", *fix ? "; " : "", fix);
    return link;
}

bool pgerr_plain(char *err, size_t errlen, const char *what, const char *text)
{
    if (errlen)
        snprintf(err, errlen, "%s: %s", what, text);
    return false;
}

int pgerr_exec(PGconn *c, const char *sql, const char *what, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int rc = 0;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = pgerr_say(err, errlen, what, c, r) ? -1 : -2;
    PQclear(r);
    return rc;
}

PGconn *pgerr_connect(const char *conninfo)
{
    /* later entries win; the conninfo, expanded in place of dbname, comes last */
    static const char *const keys[] = {"connect_timeout", "keepalives", "keepalives_idle",
                                       "keepalives_interval", "keepalives_count",
                                       "tcp_user_timeout", "dbname", NULL};
    const char *values[] = {"10", "1", "30", "10", "3", "60000", conninfo, NULL};

    return PQconnectdbParams(keys, values, 1);
}
