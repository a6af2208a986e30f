/* pgtmp.c - a throwaway PostgreSQL 15 for the C tests (see pgtmp.h); tests/pgtmp.sh makes
 * the cluster, this starts and ends its server.
 */
#define _XOPEN_SOURCE 700       /* nftw */
#include "pgtmp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define READY_S 60.0            /* a slow, busy machine: initdb's server can take a while */
#define SHUTDOWN_S 10.0
#define SWEEP_S 10.0
#define PORT_TRIES 3            /* a free port can be taken before postgres binds it */
#define POLL_NS 20000000L

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void nap(void)
{
    nanosleep(&(struct timespec){0, POLL_NS}, NULL);
}

bool pgtmp_installed(void)
{
    return access(PGTMP_BIN "/initdb", X_OK) == 0 && access(PGTMP_BIN "/postgres", X_OK) == 0;
}

static void show_log(const struct pgtmp *p)
{
    char path[128], line[512];
    FILE *f;
    long size;

    snprintf(path, sizeof path, "%s/postgres.log", p->dir);
    if (!(f = fopen(path, "r")))
        return;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, size > 3000 ? size - 3000 : 0, SEEK_SET);   /* its tail */
    printf("  --- %s\n", path);
    while (fgets(line, sizeof line, f))
        printf("  %s", line);
    fclose(f);
}

/* ---- the cluster's processes ------------------------------------------------------- */

/* Is process pid working in the cluster's data folder? */
static bool in_cluster(const struct pgtmp *p, const char *pid)
{
    char link[64], cwd[PATH_MAX];
    ssize_t n;

    snprintf(link, sizeof link, "/proc/%s/cwd", pid);
    n = readlink(link, cwd, sizeof cwd - 1);
    if (n <= 0)
        return false;
    cwd[n] = '\0';
    return strcmp(cwd, p->data) == 0;
}

/* SIGKILL (sig 0: only count) every process of the cluster: how many there were. */
static int signal_cluster(const struct pgtmp *p, int sig)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;

    if (!d || !p->data[0]) {
        if (d)
            closedir(d);
        return 0;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9' || !in_cluster(p, e->d_name))
            continue;
        n++;
        if (sig)
            kill((pid_t)atoi(e->d_name), sig);
    }
    closedir(d);
    return n;
}

int pgtmp_processes(const struct pgtmp *p)
{
    return signal_cluster(p, 0);
}

/* Kill what is left of the cluster until nothing is: 0, or -1 after SWEEP_S. */
static int sweep(const struct pgtmp *p)
{
    double deadline = now_s() + SWEEP_S;

    while (signal_cluster(p, SIGKILL) > 0) {
        if (now_s() > deadline) {
            printf("  pgtmp: processes of %s would not go\n", p->data);
            return -1;
        }
        nap();
    }
    return 0;
}

/* Has the postmaster exited? Reaped if so. */
static bool exited(struct pgtmp *p)
{
    if (p->pid <= 0)
        return true;
    if (waitpid(p->pid, NULL, WNOHANG) != p->pid)
        return false;
    p->pid = 0;
    return true;
}

/* Signal sig to the postmaster; SIGKILL after wait_s; reaped; then the sweep. */
static int end_server(struct pgtmp *p, int sig, double wait_s)
{
    double deadline = now_s() + wait_s;

    if (p->pid > 0) {
        kill(p->pid, sig);
        while (!exited(p) && now_s() < deadline)
            nap();
        if (p->pid > 0) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, NULL, 0);
            p->pid = 0;
        }
    }
    return sweep(p);
}

/* ---- starting ---------------------------------------------------------------------- */

/* In the child: postgres on the cluster, as nobody when we are root, its output appended to
 * dir/postgres.log, told to shut down fast (SIGINT) when the test dies. */
static void exec_postgres(const struct pgtmp *p, uid_t uid, gid_t gid)
{
    char log[128], port[16], data[128];
    int fd, null = open("/dev/null", O_RDONLY);
    pid_t parent = getppid();

    snprintf(log, sizeof log, "%s/postgres.log", p->dir);
    snprintf(data, sizeof data, "%s/data", p->dir);
    snprintf(port, sizeof port, "%d", p->port);
    if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0))
        _exit(126);
    /* after the drop: a change of credentials clears it */
    prctl(PR_SET_PDEATHSIG, SIGINT);
    if (getppid() != parent)
        _exit(125);     /* the test is gone already */
    fd = open(log, O_WRONLY | O_APPEND);
    if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
        _exit(124);
    /* argv[0] the full path: postgres finds its own installation from it (with a bare name
     * it searches PATH, which need not hold PostgreSQL's bin folder) */
    execl(PGTMP_BIN "/postgres", PGTMP_BIN "/postgres", "-D", data, "-p", port, (char *)NULL);
    _exit(127);
}

/* The postmaster, and the wait until it accepts connections: 0; -1 (nothing left running)
 * when it exited or did not answer within READY_S. */
static int start_server(struct pgtmp *p)
{
    struct passwd *nobody = getpwnam("nobody");
    double deadline = now_s() + READY_S;

    if (geteuid() == 0 && !nobody) {
        printf("  pgtmp: no user nobody to run postgres as\n");
        return -1;
    }
    fflush(stdout);             /* or the child would print it again */
    p->pid = fork();
    if (p->pid == 0)
        exec_postgres(p, nobody ? nobody->pw_uid : 0, nobody ? nobody->pw_gid : 0);
    if (p->pid < 0) {
        p->pid = 0;
        return -1;
    }
    while (!exited(p) && now_s() < deadline) {
        if (PQping(p->admin) == PQPING_OK)
            return 0;
        nap();
    }
    end_server(p, SIGKILL, 0);
    return -1;
}

/* Run tests/pgtmp.sh with its arguments and wait: its exit status (-1: it did not run). */
static int run_script(const char *const *args)
{
    const char *argv[8] = {"/bin/sh", "tests/pgtmp.sh"};
    int status, n = 2;
    pid_t pid;

    for (int i = 0; args[i] && n < 7; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fflush(stdout);
    if ((pid = fork()) == 0) {
        dup2(1, 2);             /* its messages go where the test's do */
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int make_cluster(struct pgtmp *p)
{
    const char *args[] = {"init", p->dir, p->tls ? "tls" : "plain", NULL};
    char data[128];

    if (run_script(args) != 0) {
        printf("  pgtmp: tests/pgtmp.sh init %s failed\n", p->dir);
        return -1;
    }
    snprintf(data, sizeof data, "%s/data", p->dir);
    if (!realpath(data, p->data)) {
        printf("  pgtmp: %s: %s\n", data, strerror(errno));
        return -1;
    }
    return 0;
}

static void set_port(struct pgtmp *p, int port)
{
    p->port = port;
    snprintf(p->admin, sizeof p->admin, "host=%s port=%d user=postgres dbname=postgres "
             "connect_timeout=5", p->dir, port);
}

int pgtmp_start(struct pgtmp *p, bool tls)
{
    memset(p, 0, sizeof *p);
    p->tls = tls;
    snprintf(p->dir, sizeof p->dir, "/tmp/pgtmp-XXXXXX");
    if (!mkdtemp(p->dir)) {
        printf("  pgtmp: mkdtemp: %s\n", strerror(errno));
        p->dir[0] = '\0';
        return -1;
    }
    if (tls)
        snprintf(p->ca, sizeof p->ca, "%s/ca.pem", p->dir);
    if (make_cluster(p) != 0) {
        pgtmp_stop(p);
        return -1;
    }
    for (int i = 0; i < PORT_TRIES; i++) {
        set_port(p, test_tcp_free_port());
        if (p->port > 0 && start_server(p) == 0)
            return 0;
    }
    printf("  pgtmp: postgres did not start on %s\n", p->dir);
    show_log(p);
    pgtmp_stop(p);
    return -1;
}

const char *pgtmp_admin_conninfo(const struct pgtmp *p)
{
    return p->admin;
}

/* key='value' with ' and \ escaped, after what out holds. */
static void put_value(char *out, size_t len, const char *key, const char *value)
{
    size_t n = strlen(out);

    n += (size_t)snprintf(out + n, n < len ? len - n : 0, " %s='", key);
    for (; *value && n + 3 < len; value++) {
        if (*value == '\'' || *value == '\\')
            out[n++] = '\\';
        out[n++] = *value;
    }
    if (n + 2 <= len) {
        out[n++] = '\'';
        out[n] = '\0';
    }
}

void pgtmp_tcp_conninfo(const struct pgtmp *p, const char *user, const char *password,
                        const char *dbname, char *out, size_t len)
{
    snprintf(out, len, "port=%d connect_timeout=5", p->port);
    put_value(out, len, "user", user);
    put_value(out, len, "dbname", dbname);
    if (password)
        put_value(out, len, "password", password);
    if (!p->tls) {
        put_value(out, len, "host", "127.0.0.1");
        put_value(out, len, "sslmode", "disable");
        return;
    }
    /* hostaddr: where to connect; host: the name the certificate is checked against */
    put_value(out, len, "host", "localhost");
    put_value(out, len, "hostaddr", "127.0.0.1");
    put_value(out, len, "sslmode", "verify-full");
    put_value(out, len, "sslrootcert", p->ca);
}

int pgtmp_restart(struct pgtmp *p)
{
    if (end_server(p, SIGINT, SHUTDOWN_S) != 0)
        return -1;
    return pgtmp_start_again(p);
}

int pgtmp_kill(struct pgtmp *p)
{
    return end_server(p, SIGKILL, 0);
}

int pgtmp_start_again(struct pgtmp *p)
{
    if (p->pid > 0 || !p->dir[0])
        return -1;
    if (start_server(p) == 0)
        return 0;
    printf("  pgtmp: postgres did not start again on %s\n", p->dir);
    show_log(p);
    return -1;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void pgtmp_stop(struct pgtmp *p)
{
    end_server(p, SIGINT, SHUTDOWN_S);
    if (p->dir[0] && nftw(p->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        printf("  pgtmp: could not remove %s\n", p->dir);
    p->dir[0] = '\0';
}
