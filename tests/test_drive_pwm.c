/* test_drive_pwm.c - the sysfs PWM drive against a directory tree standing in for sysfs. */
#define _XOPEN_SOURCE 700           /* nftw */
#include "hal/drive_pwm.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/test.h"

#define CHIP "/sys/class/pwm/pwmchip0"

struct tree {
    char root[32];
    char chip[160];                  /* root + CHIP */
    char chan[192];                  /* chip + /pwm0 */
};

static void put(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static long long get(const struct tree *t, const char *name)
{
    char path[256], buf[64] = "";
    snprintf(path, sizeof path, "%s/%s", t->chan, name);
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = '\0';
        fclose(f);
    }
    return buf[0] ? atoll(buf) : -999;
}

static void mkdir_p(const char *path)
{
    char buf[256];

    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0700);
            *p = '/';
        }
    }
    mkdir(buf, 0700);
}

static int remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

/* The chip's directory; with_channel: channel 0 already exported. */
static bool tree_make(struct tree *t, bool with_channel)
{
    snprintf(t->root, sizeof t->root, "/tmp/ecc-pwm-XXXXXX");
    if (!mkdtemp(t->root))
        return false;
    snprintf(t->chip, sizeof t->chip, "%s%s", t->root, CHIP);
    snprintf(t->chan, sizeof t->chan, "%s/pwm0", t->chip);
    mkdir_p(t->chip);
    put(t->chip, "export", "");
    if (with_channel) {
        mkdir(t->chan, 0700);
        put(t->chan, "period", "0\n");
        put(t->chan, "duty_cycle", "0\n");
        put(t->chan, "enable", "0\n");
    }
    return true;
}

static void tree_remove(struct tree *t)
{
    if (nftw(t->root, remove_one, 8, FTW_DEPTH | FTW_PHYS) != 0)
        printf("  could not remove %s\n", t->root);
}

static struct drive_pwm_params params(const struct tree *t)
{
    return (struct drive_pwm_params){.root = t->root, .chip = CHIP, .channel = 0,
                                     .period_s = 0.05, .max_duty = 0.85,
                                     .table = "0.08:0.10,0.83:0.85", .export_wait_s = 0.05};
}

/* drive_pwm_open for a test that needs the drive open, saying why it did not. */
static struct drive_pwm *open_drive(const struct drive_pwm_params *p)
{
    char err[256] = "";
    struct drive_pwm *d = drive_pwm_open(p, err, sizeof err);

    if (!d)
        printf("  drive_pwm_open: %s\n", err);
    return d;
}

TEST(open_writes_period_zero_duty_and_enable)
{
    struct tree t;
    char err[256];

    REQUIRE(tree_make(&t, true));
    struct drive_pwm_params p = params(&t);
    struct drive_pwm *d = drive_pwm_open(&p, err, sizeof err);
    CHECK(d != NULL);
    CHECK_INT(get(&t, "period"), 50000000);     /* 50 ms in ns */
    CHECK_INT(get(&t, "duty_cycle"), 0);
    CHECK_INT(get(&t, "enable"), 1);
    drive_pwm_close(d);
    tree_remove(&t);
}

TEST(speed_sets_the_duty_from_the_table)
{
    struct tree t;

    REQUIRE(tree_make(&t, true));
    struct drive_pwm_params p = params(&t);
    struct drive_pwm *d = open_drive(&p);
    REQUIRE(d != NULL);
    CHECK_INT(drive_pwm_set_speed(d, 0.08), 0);
    CHECK_INT(get(&t, "duty_cycle"), 5000000);  /* 10% of 50 ms */
    drive_pwm_set_speed(d, 0.455);              /* half way: 47.5% */
    CHECK_INT(get(&t, "duty_cycle"), 23750000);
    CHECK_NEAR(drive_pwm_duty(d), 0.475, 1e-9);
    drive_pwm_set_speed(d, 0.03);               /* below the first point: its share */
    CHECK_INT(get(&t, "duty_cycle"), 5000000);
    drive_pwm_set_speed(d, 0.83);
    CHECK_INT(get(&t, "duty_cycle"), 42500000);
    drive_pwm_close(d);
    tree_remove(&t);
}

TEST(duty_is_capped)
{
    struct tree t;

    REQUIRE(tree_make(&t, true));
    struct drive_pwm_params p = params(&t);
    p.table = "0.1:0.2,0.5:0.95";               /* a table asking for too much */
    p.max_duty = 0.6;
    struct drive_pwm *d = open_drive(&p);
    REQUIRE(d != NULL);
    drive_pwm_set_speed(d, 0.5);
    CHECK_INT(get(&t, "duty_cycle"), 30000000);
    drive_pwm_set_speed(d, 0.8);                /* past the last point too */
    CHECK_INT(get(&t, "duty_cycle"), 30000000);
    drive_pwm_close(d);
    tree_remove(&t);
}

TEST(stop_fault_stop_and_close_give_zero_duty)
{
    struct tree t;
    struct hal_drive_status st;

    REQUIRE(tree_make(&t, true));
    struct drive_pwm_params p = params(&t);
    struct drive_pwm *d = open_drive(&p);
    REQUIRE(d != NULL);
    struct hal_drive hd = drive_pwm_hal(d, 0.83);
    CHECK_INT(hal_drive_set_speed(&hd, 0.5), 0);
    CHECK(get(&t, "duty_cycle") > 0);
    CHECK_INT(hal_drive_stop(&hd), 0);
    CHECK_INT(get(&t, "duty_cycle"), 0);
    hal_drive_set_speed(&hd, 0.5);
    CHECK_INT(hal_drive_fault_stop(&hd), 0);
    CHECK_INT(get(&t, "duty_cycle"), 0);
    hal_drive_set_speed(&hd, 0.5);
    CHECK_INT(hal_drive_set_speed(&hd, 0.0), 0);   /* 0 m/s is a stop */
    CHECK_INT(get(&t, "duty_cycle"), 0);
    errno = 0;
    CHECK(hal_drive_set_speed(&hd, 0.9) == -1 && errno == EINVAL);   /* over the cap */
    CHECK_INT(hal_drive_status(&hd, &st), 0);
    CHECK(!st.present);
    hal_drive_set_speed(&hd, 0.5);
    drive_pwm_close(d);
    CHECK_INT(get(&t, "duty_cycle"), 0);
    CHECK_INT(get(&t, "enable"), 0);
    tree_remove(&t);
}

TEST(a_failed_write_is_tried_again)
{
    struct tree t;
    char path[256];

    REQUIRE(tree_make(&t, true));
    struct drive_pwm_params p = params(&t);
    struct drive_pwm *d = open_drive(&p);
    REQUIRE(d != NULL);
    snprintf(path, sizeof path, "%s/duty_cycle", t.chan);
    chmod(path, 0400);
    if (access(path, W_OK) == 0) {              /* root ignores modes: replace the file */
        unlink(path);
        mkdir(path, 0700);
    }
    CHECK_INT(drive_pwm_set_speed(d, 0.5), -1);
    CHECK_INT(drive_pwm_set_speed(d, 0.5), -1);
    rmdir(path);
    unlink(path);
    put(t.chan, "duty_cycle", "0\n");
    CHECK_INT(drive_pwm_set_speed(d, 0.5), 0);
    CHECK(get(&t, "duty_cycle") > 0);
    drive_pwm_close(d);
    tree_remove(&t);
}

TEST(an_unexported_channel_is_exported_and_waited_for)
{
    struct tree t;
    char err[256] = "", path[256], buf[16] = "";

    REQUIRE(tree_make(&t, false));
    struct drive_pwm_params p = params(&t);
    errno = 0;
    CHECK(drive_pwm_open(&p, err, sizeof err) == NULL);   /* nothing makes pwm0 here */
    CHECK_INT(errno, ETIMEDOUT);
    CHECK_STR_CONTAINS(err, "exporting channel 0");
    snprintf(path, sizeof path, "%s/export", t.chip);
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = '\0';
        fclose(f);
    }
    CHECK(strcmp(buf, "0\n") == 0);
    tree_remove(&t);
}

TEST(the_table_is_checked)
{
    struct drive_pwm_table tab;
    char err[256];
    const char *bad[][2] = {
        {"", "point 1: expected"},
        {"0.5:0.3,0.4:0.5", "point 2: speeds must rise"},
        {"0.1:0.5,0.2:0.4", "point 2: shares must not fall"},
        {"0.1:1.5", "share outside"},
        {"-0.1:0.1", "speed below 0"},
        {"0.1:0.2,", "point 2: expected"},
        {"0.1;0.2", "expected"},
        {"0.1:0.2x", "expected"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        CHECK(drive_pwm_table_parse(bad[i][0], &tab, err, sizeof err) == -1 && errno == EINVAL);
        CHECK_STR_CONTAINS(err, bad[i][1]);
    }
    char many[512] = "";
    for (int i = 0; i < DRIVE_PWM_TABLE_MAX + 1; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s%d:0.5", i ? "," : "",
                 i + 1);
    CHECK_INT(drive_pwm_table_parse(many, &tab, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "too many");
    CHECK_INT(drive_pwm_table_parse("0 : 0, 0.2:0.3 ,0.4:0.5", &tab, err, sizeof err), 0);
    CHECK_INT(tab.n, 3);
    CHECK_NEAR(drive_pwm_table_duty(&tab, 0.0), 0.0, 0);
    CHECK_NEAR(drive_pwm_table_duty(&tab, 0.1), 0.15, 1e-12);   /* from the 0 m/s point */
    CHECK_NEAR(drive_pwm_table_duty(&tab, 0.3), 0.4, 1e-12);
    CHECK_NEAR(drive_pwm_table_duty(&tab, 1.0), 0.5, 0);
}

TEST(a_bad_table_fails_open_before_touching_sysfs)
{
    struct tree t;
    char err[256];

    REQUIRE(tree_make(&t, true));
    struct drive_pwm_params p = params(&t);
    p.table = "0.5:0.3,0.4:0.5";
    CHECK(drive_pwm_open(&p, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "drive.pwm_table");
    CHECK_INT(get(&t, "enable"), 0);
    tree_remove(&t);
}

TESTS(T(open_writes_period_zero_duty_and_enable), T(speed_sets_the_duty_from_the_table),
      T(duty_is_capped), T(stop_fault_stop_and_close_give_zero_duty),
      T(a_failed_write_is_tried_again), T(an_unexported_channel_is_exported_and_waited_for),
      T(the_table_is_checked), T(a_bad_table_fails_open_before_touching_sysfs));
TEST_MAIN("test_drive_pwm")
