/* log.c - leveled log lines to stderr (see log.h). */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>

static enum log_level log_level = LOG_LVL_INFO;
static const char *log_ident = "eccd";

void log_set_level(enum log_level lvl)
{
    log_level = lvl;
}

void log_set_ident(const char *ident)
{
    log_ident = ident;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    va_list ap;

    if (lvl > log_level)
        return;
    fprintf(stderr, "%s: %s: ", log_ident, names[lvl]);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
