/* rt.c - real-time set-up and dropping root (see rt.h). */
#include "daemon/rt.h"

#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

/* "WHAT: strerror (HINT)" in msg; -1 with errno = err. */
static int fail(char *msg, size_t len, int err, const char *what, const char *hint)
{
    if (hint)
        snprintf(msg, len, "%s: %s (%s)", what, strerror(err), hint);
    else
        snprintf(msg, len, "%s: %s", what, strerror(err));
    errno = err;
    return -1;
}

static int raise_limit(int resource, rlim_t want)
{
    struct rlimit rl;

    if (getrlimit(resource, &rl) != 0)
        return -1;
    if (rl.rlim_cur != RLIM_INFINITY && (want == RLIM_INFINITY || rl.rlim_cur < want)) {
        rl.rlim_cur = want;
        if (rl.rlim_max != RLIM_INFINITY && (want == RLIM_INFINITY || rl.rlim_max < want))
            rl.rlim_max = want;
        return setrlimit(resource, &rl);
    }
    return 0;
}

int rt_prepare(const struct rt_params *p, char *msg, size_t len)
{
    if (p->priority > 0 && raise_limit(RLIMIT_RTPRIO, (rlim_t)p->priority) != 0)
        return fail(msg, len, errno, "RLIMIT_RTPRIO", "run as root, or set LimitRTPRIO=");
    if (p->lock_memory && raise_limit(RLIMIT_MEMLOCK, RLIM_INFINITY) != 0)
        return fail(msg, len, errno, "RLIMIT_MEMLOCK", "run as root, or set LimitMEMLOCK=infinity");
    return 0;
}

/* The user's ids, by name or number. */
static int lookup_user(const char *user, uid_t *uid, gid_t *gid, char *name, size_t namelen)
{
    char buf[4096], *end;
    struct passwd pw, *res = NULL;
    unsigned long n = strtoul(user, &end, 10);

    if (*end == '\0' && end != user)
        getpwuid_r((uid_t)n, &pw, buf, sizeof buf, &res);
    else
        getpwnam_r(user, &pw, buf, sizeof buf, &res);
    if (!res)
        return -1;
    *uid = pw.pw_uid;
    *gid = pw.pw_gid;
    snprintf(name, namelen, "%s", pw.pw_name);
    return 0;
}

int rt_drop_privileges(const char *user, char *msg, size_t len)
{
    char name[256];
    uid_t uid;
    gid_t gid;

    if (!user || !*user || geteuid() != 0)
        return 0;
    if (lookup_user(user, &uid, &gid, name, sizeof name) != 0) {
        snprintf(msg, len, "[daemon] user: no user '%s' on this machine", user);
        errno = ENOENT;
        return -1;
    }
    if (initgroups(name, gid) != 0)
        return fail(msg, len, errno, "[daemon] user: initgroups", name);
    if (setgid(gid) != 0)
        return fail(msg, len, errno, "[daemon] user: setgid", name);
    if (setuid(uid) != 0)
        return fail(msg, len, errno, "[daemon] user: setuid", name);
    if (uid != 0 && setuid(0) == 0) {       /* it must be for good */
        snprintf(msg, len, "%s: root could be regained after the drop", name);
        errno = EPERM;
        return -1;
    }
    return 0;
}

int rt_apply(const struct rt_params *p, char *msg, size_t len)
{
    struct sched_param sp = {.sched_priority = p->priority};
    char lock_msg[128] = "";
    int rc = 0, err = 0;

    msg[0] = '\0';
    if (p->lock_memory && mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
        err = errno;
        fail(lock_msg, sizeof lock_msg, err, "mlockall", "LimitMEMLOCK=infinity, or run as root");
    }
    if (p->priority > 0)            /* tried even when the lock failed: say both */
        rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    if (rc != 0)
        fail(msg, len, rc, "SCHED_FIFO", "LimitRTPRIO=, or CAP_SYS_NICE");
    if (err && rc)
        snprintf(msg + strlen(msg), len - strlen(msg), "; %s", lock_msg);
    else if (err)
        snprintf(msg, len, "%s", lock_msg);
    errno = rc ? rc : err;
    return rc || err ? -1 : 0;
}
