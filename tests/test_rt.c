/* test_rt.c - real-time set-up and dropping root (daemon/rt.h), each in a forked child so
 * the test process keeps its own identity and scheduling. The root-only cases SKIP,
 * naming the capability they lack, when not run as root (or as a root without it). */
#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/rt.h"
#include "tests/test.h"

/* Run fn in a child; its exit status (0 = every check inside passed). */
static int in_child(int (*fn)(void))
{
    int status;
    pid_t pid = fork();

    if (pid == 0)
        _exit(fn());
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static int drop_to_nobody(void)
{
    char msg[256];

    if (rt_drop_privileges("nobody", msg, sizeof msg) != 0)
        return 1;
    if (getuid() == 0 || geteuid() == 0 || getgid() == 0)
        return 2;
    if (setuid(0) == 0 || seteuid(0) == 0)          /* for good */
        return 3;
    return 0;
}

static int unknown_user_refused(void)
{
    char msg[256];

    if (rt_drop_privileges("no-such-user-eccd", msg, sizeof msg) == 0)
        return 1;
    return strstr(msg, "no user 'no-such-user-eccd'") && errno == ENOENT ? 0 : 2;
}

static int fifo_and_lock_as_root(void)
{
    struct rt_params p = {.priority = 10, .lock_memory = true};
    struct sched_param sp;
    char msg[256];
    int policy;

    if (rt_apply(&p, msg, sizeof msg) != 0)     /* root: CAP_SYS_NICE, CAP_IPC_LOCK */
        return 1;
    if (pthread_getschedparam(pthread_self(), &policy, &sp) != 0)
        return 2;
    return policy == SCHED_FIFO && sp.sched_priority == 10 ? 0 : 3;
}

/* Raised while root, the limits let the dropped user still get SCHED_FIFO. */
static int limits_survive_the_drop(void)
{
    struct rt_params p = {.priority = 5, .lock_memory = false};
    char msg[256];
    int policy;
    struct sched_param sp;

    if (rt_prepare(&p, msg, sizeof msg) != 0)
        return 4;
    if (rt_drop_privileges("nobody", msg, sizeof msg))
        return 1;
    if (rt_apply(&p, msg, sizeof msg) != 0)
        return 2;
    pthread_getschedparam(pthread_self(), &policy, &sp);
    return policy == SCHED_FIFO ? 0 : 3;
}

/* Without the limits, asking is a failure with a message, not a crash. */
static int refused_without_limits(void)
{
    struct rlimit zero = {0, 0};
    struct rt_params p = {.priority = 20, .lock_memory = false};
    char msg[256];

    setrlimit(RLIMIT_RTPRIO, &zero);
    if (geteuid() == 0) {
        char drop[256];
        if (rt_drop_privileges("nobody", drop, sizeof drop) != 0)
            return 1;
    }
    if (rt_apply(&p, msg, sizeof msg) == 0)
        return 2;
    return strstr(msg, "SCHED_FIFO") && strstr(msg, "LimitRTPRIO") ? 0 : 3;
}

/* Whether this process holds capability cap (its bit in CapEff of /proc/self/status). */
static bool has_cap(int cap)
{
    char line[256];
    unsigned long long eff = 0;
    bool found = false;
    FILE *f = fopen("/proc/self/status", "r");

    while (f && !found && fgets(line, sizeof line, f))
        found = sscanf(line, "CapEff: %llx", &eff) == 1;
    if (f)
        fclose(f);
    return found && ((eff >> cap) & 1u);
}

#define CAP_SETGID 6
#define CAP_SETUID 7
#define CAP_IPC_LOCK 14
#define CAP_SYS_NICE 23
#define CAP_SYS_RESOURCE 24

TEST(nothing_asked_nothing_done)
{
    struct rt_params p = {0};
    char msg[64];

    CHECK_INT(rt_prepare(&p, msg, sizeof msg), 0);
    CHECK_INT(rt_apply(&p, msg, sizeof msg), 0);
    CHECK_INT(rt_drop_privileges("", msg, sizeof msg), 0);
}

TEST(a_refused_priority_is_reported)
{
    CHECK_INT(in_child(refused_without_limits), 0);
}

TEST(root_drops_to_a_user_for_good)
{
    if (geteuid() != 0 || !has_cap(CAP_SETUID) || !has_cap(CAP_SETGID))
        SKIP("not root with CAP_SETUID and CAP_SETGID (rt_drop_privileges acts only as root)");
    CHECK_INT(in_child(drop_to_nobody), 0);
    CHECK_INT(in_child(unknown_user_refused), 0);
}

TEST(root_gets_fifo_and_locked_memory)
{
    if (!has_cap(CAP_SYS_NICE) || !has_cap(CAP_IPC_LOCK))
        SKIP("no CAP_SYS_NICE and CAP_IPC_LOCK (SCHED_FIFO and mlockall beyond the rlimits)");
    CHECK_INT(in_child(fifo_and_lock_as_root), 0);
}

/* rt_prepare raises RLIMIT_RTPRIO as root, so the user eccd drops to may still ask. */
TEST(root_raised_limits_survive_the_drop)
{
    if (geteuid() != 0 || !has_cap(CAP_SETUID) || !has_cap(CAP_SETGID))
        SKIP("not root with CAP_SETUID and CAP_SETGID (the drop acts only as root)");
    if (!has_cap(CAP_SYS_RESOURCE))     /* a container's root may lack it */
        SKIP("no CAP_SYS_RESOURCE: root here cannot raise RLIMIT_RTPRIO");
    CHECK_INT(in_child(limits_survive_the_drop), 0);
}

TESTS(T(nothing_asked_nothing_done), T(a_refused_priority_is_reported),
      T(root_drops_to_a_user_for_good), T(root_gets_fifo_and_locked_memory),
      T(root_raised_limits_survive_the_drop));
TEST_MAIN("test_rt")
