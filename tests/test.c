/* test.c - runs a table of tests and prints one result line per test (see test.h). */
#include "test.h"

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int test_failed_;
const char *test_file_;

static int test_skipped_;
static char test_skip_why_[256];

void test_skip_(const char *why)
{
    test_skipped_ = 1;
    snprintf(test_skip_why_, sizeof test_skip_why_, "%s", why ? why : "(no reason given)");
}

static void report(const char *file, const char *name)
{
    if (test_failed_)
        printf("FAIL %s: %s\n", file, name);
    else if (test_skipped_)
        printf("skip %s: %s: %s\n", file, name, test_skip_why_);
    else
        printf("ok   %s: %s\n", file, name);
    fflush(stdout);
}

int test_run_all(const char *file, const struct test_case *cases, int n)
{
    int failed = 0;

    test_file_ = file;
    for (int i = 0; i < n; i++) {
        test_failed_ = 0;
        test_skipped_ = 0;
        cases[i].fn();
        report(file, cases[i].name);
        failed += test_failed_;
    }
    return failed ? 1 : 0;
}

int test_skip_all(const char *file, const struct test_case *cases, int n, const char *why)
{
    for (int i = 0; i < n; i++)
        printf("skip %s: %s: %s\n", file, cases[i].name, why);
    fflush(stdout);
    return 0;
}

int test_unix_dial(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), e;

    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
        return fd;
    e = errno;
    close(fd);
    errno = e;
    return -1;
}
