/* progreport_pdf.c - the report printed to PDF or PNG by headless chromium (see
 * progreport.h).
 *
 * chromium runs in a process group of its own, on a fresh profile in /tmp, with the page
 * as a file:// URL (nothing on the network). It writes beside out_path first; that file
 * replaces out_path only when chromium ended well and the file is not empty.
 */
#define _XOPEN_SOURCE 700       /* nftw */
#include "client/progreport.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLL_NS 50000000L       /* how often the wait looks at chromium */
#define MAX_ARGS 24

struct job {
    const char *browser;
    enum progreport_fmt fmt;
    char profile[64];                   /* the fresh --user-data-dir */
    char log[96];                       /* chromium's stdout and stderr, in the profile */
    char url[3 * PATH_MAX + 16];
    char out[PATH_MAX];                 /* out_path, absolute */
    char part[PATH_MAX + 32];           /* what chromium writes, renamed to out when good */
    char *err;
    size_t errlen;
};

static int fail(struct job *j, const char *what, const char *detail)
{
    if (j->errlen)
        snprintf(j->err, j->errlen, "%s%s%s", what, *detail ? ": " : "", detail);
    return -1;
}

/* ---- paths ---------------------------------------------------------------------------- */

static bool url_safe(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
}

/* file:// and the absolute path, percent-encoded where a URL needs it. */
static int file_url(struct job *j, const char *html_path)
{
    char abs[PATH_MAX];
    size_t n;

    if (!realpath(html_path, abs))
        return fail(j, html_path, strerror(errno));
    n = (size_t)snprintf(j->url, sizeof j->url, "file://");
    for (const unsigned char *p = (const unsigned char *)abs; *p; p++)
        n += (size_t)snprintf(j->url + n, sizeof j->url - n, url_safe(*p) ? "%c" : "%%%02X", *p);
    return 0;
}

static int out_paths(struct job *j, const char *out_path)
{
    char cwd[PATH_MAX];
    const char *ext = j->fmt == PROGREPORT_PDF ? "pdf" : "png";

    if (out_path[0] == '/') {
        snprintf(j->out, sizeof j->out, "%s", out_path);
    } else {
        if (!getcwd(cwd, sizeof cwd))
            return fail(j, "no working directory", strerror(errno));
        if ((size_t)snprintf(j->out, sizeof j->out, "%s/%s", cwd, out_path) >= sizeof j->out)
            return fail(j, out_path, "path too long");
    }
    /* chromium may go by the name's ending, so the part file keeps it */
    snprintf(j->part, sizeof j->part, "%s.part-%d.%s", j->out, (int)getpid(), ext);
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_profile(const struct job *j)
{
    nftw(j->profile, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- chromium ------------------------------------------------------------------------- */

struct args {
    const char *argv[MAX_ARGS];
    char profile[96], out[PATH_MAX + 64], size[48];
};

static void build_args(const struct job *j, struct args *a)
{
    int n = 0;

    snprintf(a->profile, sizeof a->profile, "--user-data-dir=%s", j->profile);
    snprintf(a->out, sizeof a->out, "%s%s",
             j->fmt == PROGREPORT_PDF ? "--print-to-pdf=" : "--screenshot=", j->part);
    snprintf(a->size, sizeof a->size, "--window-size=1240,%d", PROGREPORT_PNG_HEIGHT);
    a->argv[n++] = j->browser;
    a->argv[n++] = "--headless";
    if (geteuid() == 0)
        a->argv[n++] = "--no-sandbox";  /* chromium will not run as root without it */
    a->argv[n++] = "--disable-gpu";
    a->argv[n++] = "--no-first-run";
    a->argv[n++] = "--no-default-browser-check";
    a->argv[n++] = "--disable-extensions";
    a->argv[n++] = "--disable-sync";
    a->argv[n++] = "--disable-background-networking";
    a->argv[n++] = "--disable-component-update";
    a->argv[n++] = "--disable-dev-shm-usage";
    a->argv[n++] = a->profile;
    if (j->fmt == PROGREPORT_PDF) {
        a->argv[n++] = "--no-pdf-header-footer";
    } else {
        a->argv[n++] = "--hide-scrollbars";
        a->argv[n++] = "--force-device-scale-factor=1";
        a->argv[n++] = a->size;
    }
    a->argv[n++] = a->out;
    a->argv[n++] = j->url;
    a->argv[n] = NULL;
}

static pid_t start(const struct job *j, struct args *a)
{
    pid_t pid;

    build_args(j, a);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        int log = open(j->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        setpgid(0, 0);
        if (null >= 0)
            dup2(null, 0);
        if (log >= 0) {
            dup2(log, 1);
            dup2(log, 2);
        }
        execv(j->browser, (char *const *)a->argv);
        _exit(127);
    }
    if (pid > 0)
        setpgid(pid, pid);      /* also here, so the group exists before any kill */
    return pid;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Has chromium exited? Asked without reaping it, so that its pid, and with it the id of its
 * process group, cannot be taken by another process before the group is killed. */
static bool exited(pid_t pid)
{
    siginfo_t info;

    for (;;) {
        memset(&info, 0, sizeof info);
        if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0)
            return info.si_pid == pid;
        if (errno != EINTR)
            return true;        /* not our child to wait for */
    }
}

/* Wait for chromium within timeout_s: its wait status, or -1 when it ran over. Its group is
 * killed either way, so nothing it started stays behind. */
static int wait_bounded(pid_t pid, double timeout_s)
{
    double deadline = now_s() + timeout_s;
    struct timespec poll = {0, POLL_NS};
    int status = 0;
    bool done;

    while (!(done = exited(pid)) && now_s() < deadline)
        nanosleep(&poll, NULL);
    kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return done ? status : -1;
}

/* The last line chromium printed, for an error message. */
static void last_line(const struct job *j, char *buf, size_t len)
{
    char line[512];
    FILE *f = fopen(j->log, "r");

    buf[0] = '\0';
    if (!f)
        return;
    while (fgets(line, sizeof line, f))
        if (line[0] != '\n') {
            line[strcspn(line, "\n")] = '\0';
            snprintf(buf, len, "%s", line);
        }
    fclose(f);
}

static int judge(struct job *j, int status, double timeout_s)
{
    char what[128], line[512];
    struct stat st;

    last_line(j, line, sizeof line);
    if (status < 0) {
        snprintf(what, sizeof what, "chromium took over %g s and was stopped", timeout_s);
        return fail(j, what, line);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(what, sizeof what, "chromium failed (%s %d)",
                 WIFEXITED(status) ? "exit status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return fail(j, what, line);
    }
    if (stat(j->part, &st) != 0 || st.st_size == 0) {
        snprintf(what, sizeof what, "chromium wrote no %s",
                 j->fmt == PROGREPORT_PDF ? "PDF" : "PNG");
        return fail(j, what, line);
    }
    if (rename(j->part, j->out) != 0)
        return fail(j, j->out, strerror(errno));
    return 0;
}

static int run(struct job *j, double timeout_s)
{
    struct args a;
    pid_t pid = start(j, &a);

    if (pid < 0)
        return fail(j, "cannot start chromium", strerror(errno));
    return judge(j, wait_bounded(pid, timeout_s), timeout_s);
}

int progreport_chromium_with(const char *browser, double timeout_s, const char *html_path,
                             const char *out_path, enum progreport_fmt fmt, char *err,
                             size_t errlen)
{
    struct job *j = calloc(1, sizeof *j);
    char what[PATH_MAX + 64];
    bool profile = false;
    int rc;

    if (!j) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *j = (struct job){.browser = browser, .fmt = fmt, .err = err, .errlen = errlen};
    snprintf(j->profile, sizeof j->profile, "/tmp/ecc-report-XXXXXX");
    if (access(browser, X_OK) != 0) {
        snprintf(what, sizeof what, "no %s (Debian package chromium)", browser);
        rc = fail(j, what, "apt-get install chromium");
    } else if (file_url(j, html_path) || out_paths(j, out_path)) {
        rc = -1;
    } else if (!(profile = mkdtemp(j->profile) != NULL)) {
        rc = fail(j, "cannot make a browser profile in /tmp", strerror(errno));
    } else {
        snprintf(j->log, sizeof j->log, "%s/chromium.log", j->profile);
        rc = run(j, timeout_s);
    }
    if (j->part[0])
        unlink(j->part);
    if (profile)
        remove_profile(j);
    free(j);
    return rc;
}

int progreport_chromium(const char *html_path, const char *out_path, enum progreport_fmt fmt,
                        char *err, size_t errlen)
{
    return progreport_chromium_with(PROGREPORT_CHROMIUM, PROGREPORT_TIMEOUT_S, html_path,
                                    out_path, fmt, err, errlen);
}
