/* test.c - runs a table of tests and prints one result line per test (see test.h). */
#include "test.h"

int test_failed_;
const char *test_file_;

int test_run_all(const char *file, const struct test_case *cases, int n)
{
    int failed = 0;

    test_file_ = file;
    for (int i = 0; i < n; i++) {
        test_failed_ = 0;
        cases[i].fn();
        printf("%s %s: %s\n", test_failed_ ? "FAIL" : "ok  ", file, cases[i].name);
        fflush(stdout);
        failed += test_failed_;
    }
    return failed ? 1 : 0;
}
