/* reply.c - eccd's replies on the control socket (see reply.h). */
#include "daemon/reply.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

char *reply_error(const struct req *r, const char *code, const char *fmt, ...)
{
    char msg[1024], *buf = malloc(REQ_LINE_MAX);
    va_list ap;

    if (!buf)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    req_reply_error(buf, REQ_LINE_MAX, r, code, msg);
    return buf;
}

json_t *reply_ok(const struct req *r)
{
    json_t *o = json_pack("{s:i, s:b, s:s}", "v", REQ_VERSION, "ok", 1, "cmd", req_cmd_name(r->cmd));

    if (o && r->tag[0])
        json_object_set_new(o, "tag", json_string(r->tag));
    return o;
}

char *reply_dump(json_t *o)
{
    char *line = o ? json_dumps(o, REPLY_JSON_FLAGS) : NULL;

    json_decref(o);
    return line;
}

char *reply_dump_times(json_t *o)
{
    char *line = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(REPLY_TIME_DIGITS)) : NULL;

    json_decref(o);
    return line;
}

json_t *reply_num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *reply_time(double wall)
{
    char buf[32];
    time_t t = (time_t)floor(wall);
    struct tm tm;

    if (!isfinite(wall) || !gmtime_r(&t, &tm))
        return json_null();
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}
