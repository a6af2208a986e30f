/* test_web_browser.c - the patient's page in a real browser (headless Debian chromium via
 * chromedriver) against the real eccweb and eccd on the simulated rig, for a whole set.
 *
 * eccd runs the `partial` patient (strokes cut short: rejected ones) at twice real time,
 * with an e-stop injected in the rest after set 1. The test reads the page as a person sees
 * it (the DOM) ten times a second and what the page recorded it showed (window.eccweb),
 * then compares with eccd's rep log and history:
 *   - the rep counter went 0, 1, ..., 15 through set 1, exactly the rep log's reps;
 *   - the force number's colour always matched the force against the band;
 *   - every rejected stroke was shown with its reason in words;
 *   - the e-stop's banner was up within 0.5 s of the loop's tick that carried it (the
 *     line's tick_ms, the host's real time, against the page's own clock);
 *   - a pain score pressed on the page is in eccd's history for set 1;
 *   - the progress view shows the session and the target to beat, and its CSV holds the
 *     set's 15 reps;
 *   - a browser eccweb does not trust (trust_loopback = false stands for a phone on the
 *     LAN) gets no control until it pairs with the PIN, and a wrong PIN is refused; paired,
 *     its STOP pauses the set, a tap on start does nothing and a press held for a second
 *     starts it again ([web] allow_start).
 * Screenshots at phone (412 x 915) and tablet (1024 x 768) size go to
 * $ECC_BUILD/screenshots/ (make web-screenshots copies them into docs/).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/test.h"
#include "tests/webdriver.h"

#define PHONE_W 412
#define PHONE_H 915
#define TABLET_W 1024
#define TABLET_H 768
#define POLL_MS 100
#define RUN_LIMIT_S 120             /* the set, the rest and the fault at twice real time: ~40 s */
#define FAULT_AT "70"               /* s of the rig's time: in the rest after set 1 (ends at 55 s) */
#define PAIN_SCORE 3
#define BANNER_MAX_MS 500.0

static const char *const eccd_args[] = {
    "--set", "sim.speed=2", "--set", "sim.scenario=partial", "--sim-fault", "estop@" FAULT_AT,
    "--duration", "600", "--rep-log", "@/reps.jsonl", NULL};

static const char *build_dir(void)
{
    const char *b = getenv("ECC_BUILD");
    return b && *b ? b : "build";
}

/* ---- what the page shows --------------------------------------------------------------- */

/* One look at the page: the DOM as a person sees it. */
static const char LOOK[] =
    "const t = (id) => document.getElementById(id);"
    "return {rep: +t('rep').textContent, set: +t('set').textContent,"
    " force: t('force-n').textContent, zone: t('force').dataset.zone, band: t('band').textContent,"
    " state: t('state').dataset.state || '', verdict: t('verdict').textContent,"
    " verdict_kind: t('verdict').dataset.kind, banner: !t('banner').hidden,"
    " banner_text: t('banner-what').textContent, pain: !t('pain').hidden,"
    " controls: !t('controls').hidden, pair: !t('pair').hidden};";

struct seen {
    int looks, zone_checked, zone_wrong, zones[4];  /* below, in, above, off */
    int rejected_shown;             /* looks whose verdict said "Not counted: ..." */
    bool pain_clicked, banner, shot_phone, shot_tablet;
    char last_reject_text[160];
};

static int zone_index(const char *z)
{
    return !strcmp(z, "below") ? 0 : !strcmp(z, "in") ? 1 : !strcmp(z, "above") ? 2 : 3;
}

/* The colour against the force shown and the band shown: counted when the force is more
 * than 1 N from an edge (the page rounds the number it shows). */
static void check_zone(struct seen *s, json_t *look)
{
    const char *zone = json_string_value(json_object_get(look, "zone"));
    const char *band = json_string_value(json_object_get(look, "band"));
    const char *force = json_string_value(json_object_get(look, "force"));
    double lo, hi, f;
    const char *want;

    if (!zone || !band || !force)
        return;
    s->zones[zone_index(zone)]++;
    if (!strcmp(zone, "off") || sscanf(band, "%lf%*[^0-9]%lf", &lo, &hi) != 2 ||
        sscanf(force, "%lf", &f) != 1 || fabs(f - lo) <= 1.0 || fabs(f - hi) <= 1.0)
        return;
    want = f < lo ? "below" : f > hi ? "above" : "in";
    s->zone_checked++;
    if (strcmp(want, zone) != 0) {
        s->zone_wrong++;
        printf("  force %s N against %s N shown as %s\n", force, band, zone);
    }
}

static void screenshot(struct wd *wd, const char *name)
{
    char dir[256], path[320];

    snprintf(dir, sizeof dir, "%s/screenshots", build_dir());
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (wd_screenshot(wd, path) != 0)
        printf("  screenshot %s: %s\n", name, wd->err);
    else
        printf("  screenshot: %s\n", path);
}

/* What to do on this look: press the pain score, take the screenshots mid-set. */
static void act(struct wd *wd, struct seen *s, json_t *look)
{
    int rep = (int)json_number_value(json_object_get(look, "rep"));
    const char *v = json_string_value(json_object_get(look, "verdict"));

    if (json_is_true(json_object_get(look, "pain")) && !s->pain_clicked) {
        char css[64];
        snprintf(css, sizeof css, "#pain-scores button[data-score=\"%d\"]", PAIN_SCORE);
        if (wd_click(wd, css) == 0)
            s->pain_clicked = true;
        else
            printf("  pain click: %s\n", wd->err);
    }
    if (v && !strncmp(v, "Not counted: ", 13)) {
        s->rejected_shown++;
        snprintf(s->last_reject_text, sizeof s->last_reject_text, "%s", v);
    }
    if (strcmp(json_string_value(json_object_get(look, "zone")), "in") != 0)
        return;                     /* the pictures show a stroke in the band */
    if (rep >= 6 && !s->shot_phone) {
        screenshot(wd, "web-phone.png");
        s->shot_phone = true;
    } else if (rep >= 9 && !s->shot_tablet) {
        if (wd_window_size(wd, TABLET_W, TABLET_H) == 0) {
            nanosleep(&(struct timespec){0, 300000000L}, NULL);    /* a frame or two */
            screenshot(wd, "web-tablet.png");
            wd_window_size(wd, PHONE_W, PHONE_H);
        }
        s->shot_tablet = true;
    }
}

/* Look at the page every POLL_MS until the fault banner is up (bounded). */
static void watch_page(struct wd *wd, struct seen *s)
{
    for (int i = 0; i < RUN_LIMIT_S * 1000 / POLL_MS; i++) {
        json_t *look = wd_exec(wd, LOOK);

        if (!look) {
            printf("  the page did not answer: %s\n", wd->err);
            return;
        }
        s->looks++;
        if (json_is_true(json_object_get(look, "banner")) &&
            strstr(json_string_value(json_object_get(look, "banner_text")), "Emergency")) {
            s->banner = true;
            json_decref(look);
            return;
        }
        if (!strcmp(json_string_value(json_object_get(look, "state")), "set_running"))
            check_zone(s, look);
        act(wd, s, look);
        json_decref(look);
        nanosleep(&(struct timespec){0, POLL_MS * 1000000L}, NULL);
    }
}

/* ---- what eccd says happened ----------------------------------------------------------- */

struct truth {
    int reps[64], n_reps;           /* set 1's rep numbers in order */
    char rejects[64][40];           /* set 1's reject verdicts */
    int n_rejects;
    bool fault;
};

static void read_replog(const char *dir, struct truth *t)
{
    char path[160], line[4096];
    FILE *f;

    memset(t, 0, sizeof *t);
    snprintf(path, sizeof path, "%s/reps.jsonl", dir);
    if (!(f = fopen(path, "r")))
        return;
    while (fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        const char *ev = json_string_value(json_object_get(j, "event"));
        int set = (int)json_integer_value(json_object_get(j, "set"));
        if (ev && !strcmp(ev, "rep") && set == 1 && t->n_reps < 64)
            t->reps[t->n_reps++] = (int)json_integer_value(json_object_get(j, "rep"));
        else if (ev && !strcmp(ev, "reject") && set == 1 && t->n_rejects < 64)
            snprintf(t->rejects[t->n_rejects++], sizeof t->rejects[0], "%s",
                     json_string_value(json_object_get(j, "verdict")));
        else if (ev && !strcmp(ev, "fault"))
            t->fault = true;
        json_decref(j);
    }
    fclose(f);
}

/* The page's own record: the rep counts it showed in set 1, in order, must be 0..n_reps
 * with every rep of the rep log (none skipped, none made up). */
static void check_reps(json_t *rec, const struct truth *t)
{
    json_t *shown = json_object_get(rec, "shown"), *x;
    size_t i;
    int want = 0, bad = 0;

    json_array_foreach(shown, i, x) {
        if (json_integer_value(json_object_get(x, "set")) != 1)
            continue;
        if (json_integer_value(json_object_get(x, "rep")) != want)
            bad++;
        want++;
    }
    printf("  set 1: the page showed reps 0..%d; the rep log has %d reps%s\n", want - 1,
           t->n_reps, bad ? " (out of order)" : "");
    CHECK(t->n_reps == 15);
    CHECK(bad == 0);
    CHECK(want == t->n_reps + 1);
    for (int r = 0; r < t->n_reps; r++)
        CHECK(t->reps[r] == r + 1);
}

/* Every rejected stroke of the rep log, shown with its verdict (as many of each). */
static void check_rejects(json_t *rec, const struct truth *t)
{
    json_t *verdicts = json_object_get(rec, "verdicts"), *x;
    int shown = 0, matched = 0;
    size_t i;
    bool used[64] = {false};

    json_array_foreach(verdicts, i, x) {
        const char *v = json_string_value(json_object_get(x, "verdict"));
        if (!v)
            continue;
        shown++;
        for (int k = 0; k < t->n_rejects; k++)
            if (!used[k] && !strcmp(t->rejects[k], v)) {
                used[k] = true;
                matched++;
                break;
            }
    }
    printf("  rejected strokes: %d in the rep log's set 1, %d shown by the page (%d matched)\n",
           t->n_rejects, shown, matched);
    CHECK(t->n_rejects > 0);
    CHECK(matched >= t->n_rejects);
}

static void check_banner(json_t *rec, const struct seen *s, const struct truth *t)
{
    json_t *b = json_object_get(rec, "banner");
    double at = json_number_value(json_object_get(b, "at"));
    double tick = json_number_value(json_object_get(b, "tick_ms"));

    CHECK(t->fault);
    CHECK(s->banner);
    CHECK(json_is_object(b) && tick > 0);
    if (json_is_object(b) && tick > 0) {
        printf("  e-stop banner up %.0f ms after the tick that carried it\n", at - tick);
        CHECK(at - tick <= BANNER_MAX_MS);
    }
}

/* The pain score pressed on the page is set 1's in eccd's history. */
static void check_pain(const struct test_eccd *e, bool clicked)
{
    char line[1 << 16];
    int fd = test_unix_dial(e->sock);
    ssize_t n = 0, k;
    const char req[] = "{\"v\":1,\"cmd\":\"history\",\"days\":30}\n";
    json_t *j, *pain = NULL;

    CHECK(clicked);
    if (fd < 0 || send(fd, req, sizeof req - 1, MSG_NOSIGNAL) < 0) {
        CHECK(!"history request");
        if (fd >= 0)
            close(fd);
        return;
    }
    while ((size_t)n < sizeof line - 1 && (k = recv(fd, line + n, sizeof line - 1 - (size_t)n, 0)) > 0) {
        n += k;
        if (memchr(line, '\n', (size_t)n))
            break;
    }
    close(fd);
    line[n > 0 ? n : 0] = '\0';
    j = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL);
    pain = json_object_get(json_array_get(json_object_get(json_array_get(
                           json_object_get(j, "sessions"), 0), "sets"), 0), "pain");
    printf("  set 1's pain in eccd's history: %s\n",
           json_is_integer(pain) ? "recorded" : "missing");
    CHECK(json_is_integer(pain) && json_integer_value(pain) == PAIN_SCORE);
    json_decref(j);
}

static json_t *look_after(struct wd *wd, const char *script, int ms);

/* The progress view: the session so far, the target to beat, and every rep as CSV. */
static void check_progress(struct wd *wd)
{
    json_t *p, *csv;

    if (wd_click(wd, "#tab") != 0)
        printf("  progress tab: %s\n", wd->err);
    p = look_after(wd, "return {msg: document.getElementById('progress-msg').textContent,"
                       " beat: document.getElementById('beat').textContent,"
                       " csv: !document.getElementById('csv').hidden};", 1000);
    csv = wd_exec(wd, "return fetch('/api/export.csv').then(r => r.text().then(t => ({status:"
                      " r.status, type: r.headers.get('content-type'), head: t.split('\\r\\n')[0],"
                      " rows: t.trim().split('\\n').length - 1})));");
    printf("  progress: \"%s\" \"%s\"; CSV %d rows, header %.40s...\n",
           json_string_value(json_object_get(p, "msg")), json_string_value(json_object_get(p, "beat")),
           (int)json_integer_value(json_object_get(csv, "rows")),
           json_string_value(json_object_get(csv, "head")));
    CHECK_STR_CONTAINS(json_string_value(json_object_get(p, "msg")), "1 session in the last 28 days");
    CHECK_STR_CONTAINS(json_string_value(json_object_get(p, "beat")), "in band. Beat it!");
    CHECK(json_is_true(json_object_get(p, "csv")));
    CHECK(json_integer_value(json_object_get(csv, "status")) == 200);
    CHECK_STR_CONTAINS(json_string_value(json_object_get(csv, "type")), "text/csv");
    CHECK_STR_CONTAINS(json_string_value(json_object_get(csv, "head")), "patient,session,");
    CHECK(json_integer_value(json_object_get(csv, "rows")) == 15);
    json_decref(p);
    json_decref(csv);
}

static void the_page_follows_a_whole_set(void)
{
    struct test_eccd e;
    struct test_eccweb w = {0};
    struct wd wd = {0};
    struct seen s = {0};
    struct truth t;
    char url[64];
    json_t *rec = NULL;

    REQUIRE(test_eccd_start(&e, "san", eccd_args) == 0);
    if (test_eccweb_start(&w, &e, "san", "rig", NULL) != 0 || wd_open(&wd, PHONE_W, PHONE_H) != 0) {
        printf("  set-up: eccweb %s, browser: %s\n", w.pid > 0 ? "started" : "did not start", wd.err);
        CHECK(!"set-up");
        goto out;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", w.port);
    CHECK(wd_get(&wd, url) == 0);
    watch_page(&wd, &s);
    screenshot(&wd, "web-phone-fault.png");
    rec = wd_exec(&wd, "return {shown: eccweb.shown, verdicts: eccweb.verdicts.filter(v => v.kind === 'rejected'),"
                       " banner: eccweb.banner, latency: eccweb.latency.slice(-2000)};");
    read_replog(e.dir, &t);
    printf("  %d looks at the page; colour checked %d times against the force: %d wrong "
           "(below %d, in %d, above %d, off %d)\n", s.looks, s.zone_checked, s.zone_wrong,
           s.zones[0], s.zones[1], s.zones[2], s.zones[3]);
    CHECK(s.zone_checked >= 20 && s.zone_wrong == 0);
    CHECK(s.zones[1] > 0 && s.zones[0] + s.zones[2] > 0);
    CHECK(s.rejected_shown > 0);
    printf("  a rejected stroke as shown: \"%s\"\n", s.last_reject_text);
    check_reps(rec, &t);
    check_rejects(rec, &t);
    check_banner(rec, &s, &t);
    check_pain(&e, s.pain_clicked);
    check_progress(&wd);
out:
    json_decref(rec);
    wd_close(&wd);
    CHECK(test_eccweb_end(&w) == 0);
    test_eccd_clean(&e);
}

/* ---- a device eccweb does not trust ---------------------------------------------------- */

static const char FETCH_STOP[] =
    "return fetch('/api/stop', {method: 'POST', headers: {'Content-Type': 'application/json',"
    " 'X-Eccweb': '1'}, body: '{}'}).then(r => r.json().then(j => ({status: r.status, error: j.error || ''})));";

static const char PAIR_WITH[] =
    "document.getElementById('pin').value = '%s';"
    "document.getElementById('pair-form').requestSubmit(); return true;";

static json_t *look_after(struct wd *wd, const char *script, int ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
    return wd_exec(wd, script);
}

static const char STATE[] = "return document.getElementById('state').dataset.state;";

/* STOP pauses the set; a tap on start does nothing; a press held 1.3 s starts it again. */
static void check_stop_and_hold(struct wd *wd)
{
    json_t *a = NULL, *b = NULL, *c = NULL;

    CHECK(wd_click(wd, "#stop") == 0);
    a = look_after(wd, STATE, 1000);
    CHECK(wd_click(wd, "#start") == 0);
    b = look_after(wd, STATE, 1500);
    CHECK(wd_hold(wd, "#start", 1300) == 0);
    c = look_after(wd, STATE, 1000);
    printf("  STOP: %s; a tap on start: %s; start held 1.3 s: %s\n", json_string_value(a),
           json_string_value(b), json_string_value(c));
    CHECK_STR_CONTAINS(json_string_value(a), "paused");
    CHECK_STR_CONTAINS(json_string_value(b), "paused");
    CHECK_STR_CONTAINS(json_string_value(c), "set_running");
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

static void an_unpaired_device_gets_no_control(void)
{
    static const char *const untrusted[] = {"web.trust_loopback=false", "web.allow_start=true", NULL};
    struct test_eccd e;
    struct test_eccweb w = {0};
    struct wd wd = {0};
    char url[64], js[256], pin[16] = "";
    json_t *look = NULL, *stop = NULL, *after = NULL;
    FILE *f;

    REQUIRE(test_eccd_start(&e, "san", eccd_args) == 0);
    if (test_eccweb_start(&w, &e, "san", "lan", untrusted) != 0 || wd_open(&wd, PHONE_W, PHONE_H) != 0) {
        printf("  set-up: %s\n", wd.err);
        CHECK(!"set-up");
        goto out;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", w.port);
    CHECK(wd_get(&wd, url) == 0);
    look = look_after(&wd, LOOK, 1500);
    stop = wd_exec(&wd, FETCH_STOP);
    printf("  unpaired: controls %s, pairing form %s, POST /api/stop -> %d %s\n",
           json_is_true(json_object_get(look, "controls")) ? "shown" : "hidden",
           json_is_true(json_object_get(look, "pair")) ? "shown" : "hidden",
           (int)json_integer_value(json_object_get(stop, "status")),
           json_string_value(json_object_get(stop, "error")));
    CHECK(json_is_false(json_object_get(look, "controls")));
    CHECK(json_is_true(json_object_get(look, "pair")));
    CHECK(json_integer_value(json_object_get(stop, "status")) == 403);
    CHECK_STR_CONTAINS(json_string_value(json_object_get(stop, "error")), "not_paired");
    json_decref(wd_exec(&wd, "document.getElementById('pin').value = '000000';"
                             "document.getElementById('pair-form').requestSubmit(); return true;"));
    json_decref(after);
    after = look_after(&wd, "return document.getElementById('pair-msg').textContent;", 800);
    printf("  a wrong PIN: \"%s\"\n", json_string_value(after));
    CHECK_STR_CONTAINS(json_string_value(after), "not the PIN");
    if ((f = fopen(w.pin_file, "r"))) {
        CHECK(fscanf(f, "%15s", pin) == 1);
        fclose(f);
    }
    CHECK(strlen(pin) == 6);
    snprintf(js, sizeof js, PAIR_WITH, pin);
    json_decref(wd_exec(&wd, js));
    json_decref(look);
    look = look_after(&wd, LOOK, 1500);
    printf("  paired with the PIN from eccctl pair's file: controls %s\n",
           json_is_true(json_object_get(look, "controls")) ? "shown" : "hidden");
    CHECK(json_is_true(json_object_get(look, "controls")));
    check_stop_and_hold(&wd);
out:
    json_decref(look);
    json_decref(stop);
    json_decref(after);
    wd_close(&wd);
    CHECK(test_eccweb_end(&w) == 0);
    test_eccd_clean(&e);
}

TESTS(T(the_page_follows_a_whole_set), T(an_unpaired_device_gets_no_control));

int main(void)
{
    const char *missing = wd_available();

    if (*missing)
        return test_skip_all("test_web_browser", test_cases_, (int)(sizeof test_cases_ / sizeof test_cases_[0]),
                             missing);
    return test_run_all("test_web_browser", test_cases_, (int)(sizeof test_cases_ / sizeof test_cases_[0]));
}
