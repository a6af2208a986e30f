/* test_web_http.c - what a browser gets from eccweb over HTTP, through the real eccweb (san)
 * and eccd (san) on the simulated rig, with raw TCP clients reading whole replies (status,
 * headers, body):
 *   - the rig's own browser: each reply's status, Content-Type and the security headers on
 *     good replies and refusals alike; no Host is 400; the PIN it is shown is the PIN file's;
 *     two requests sent at once on one connection get two replies;
 *   - a phone (trust_loopback = false): refused until paired; the right PIN once gives an
 *     HttpOnly SameSite=Strict cookie that lets it stop, the PIN file a new PIN, the same PIN
 *     a second time nothing; a forged cookie nothing; unpair ends the session; with
 *     max_paired = 1 pairing a second phone forgets the first;
 *   - wrong PINs, from anyone, lock pairing: /api/session and the PIN file say so, a
 *     malformed PIN is no try, the right PIN is refused while locked;
 *   - a live page (GET /events) gets eccd's watch lines as Server-Sent Events and is not
 *     closed by the idle timeout while they flow.
 * Each test then finds eccd's loop without an overrun and eccweb ending with status 0 and
 * its sanitizers quiet. test_web_requests covers the endpoint table, slow clients, 100
 * connections and seeded random requests.
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/test.h"

#define REPLY_WAIT_MS 5000          /* a bound on silence, not a measure */
#define DROPPED (-1)
#define JSON_HDRS "Content-Type: application/json\r\nX-Eccweb: 1\r\n"
#define SESSION_DAYS "2"            /* Max-Age 172800 */

static const char *const eccd_args[] = {"--set", "sim.speed=1", "--duration", "600", NULL};

/* ---- a raw HTTP client ------------------------------------------------------------------ */

/* One whole reply (or what came before the server closed or fell silent). */
struct reply {
    int status;                     /* DROPPED: no status line */
    char raw[1 << 16];
    size_t len;
    const char *body;               /* after the blank line (the end when none) */
};

/* Read until the server closes or REPLY_WAIT_MS of silence. */
static void read_all(int fd, struct reply *r)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t k;

        if (r->len + 1 >= sizeof r->raw || poll(&p, 1, REPLY_WAIT_MS) != 1)
            break;
        if ((k = recv(fd, r->raw + r->len, sizeof r->raw - 1 - r->len, 0)) <= 0)
            break;
        r->len += (size_t)k;
    }
    r->raw[r->len] = '\0';
}

static void parse_reply(struct reply *r)
{
    const char *blank = strstr(r->raw, "\r\n\r\n");

    r->status = DROPPED;
    if (r->len > 12 && !strncmp(r->raw, "HTTP/1.", 7))
        r->status = atoi(r->raw + 9);
    r->body = blank ? blank + 4 : r->raw + r->len;
}

/* Send req on a new connection and read the reply. */
static int exchange(int port, const char *req, struct reply *r)
{
    int fd = test_tcp_dial(port);

    memset(r, 0, sizeof *r);
    if (fd >= 0 && send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req))
        read_all(fd, r);
    if (fd >= 0)
        close(fd);
    parse_reply(r);
    return r->status;
}

/* The value of the first header name in the reply's head (NULL: none); copied into out. */
static const char *header(const struct reply *r, const char *name, char *out, size_t n)
{
    size_t k = strlen(name);

    for (const char *line = strstr(r->raw, "\r\n"); line && line < r->body;
         line = strstr(line + 2, "\r\n")) {
        const char *end = strstr(line + 2, "\r\n");
        if (!end || end == line + 2)
            break;
        if (!strncasecmp(line + 2, name, k) && line[2 + k] == ':') {
            const char *v = line + 3 + k;
            while (*v == ' ')
                v++;
            snprintf(out, n, "%.*s", (int)(end - v), v);
            return out;
        }
    }
    return NULL;
}

static void get(char *out, size_t n, const char *path, const char *cookie)
{
    snprintf(out, n, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s%s\r\n",
             path, cookie ? "Cookie: eccweb=" : "", cookie ? cookie : "", cookie ? "\r\n" : "");
}

/* A write as the page sends it (X-Eccweb, JSON), with the cookie when there is one. */
static void post(char *out, size_t n, const char *path, const char *cookie, const char *body)
{
    snprintf(out, n, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" JSON_HDRS
             "%s%s%sContent-Length: %zu\r\n\r\n%s", path, cookie ? "Cookie: eccweb=" : "",
             cookie ? cookie : "", cookie ? "\r\n" : "", strlen(body), body);
}

static int get_status(int port, const char *path, const char *cookie, struct reply *r)
{
    char req[512];

    get(req, sizeof req, path, cookie);
    return exchange(port, req, r);
}

static int post_status(int port, const char *path, const char *cookie, const char *body,
                       struct reply *r)
{
    char req[1024];

    post(req, sizeof req, path, cookie, body);
    return exchange(port, req, r);
}

/* The body's JSON member as text ("" when absent). */
static const char *member(const struct reply *r, const char *key, char *out, size_t n)
{
    json_t *j = json_loads(r->body, 0, NULL), *v = json_object_get(j, key);

    if (json_is_string(v))
        snprintf(out, n, "%s", json_string_value(v));
    else if (json_is_boolean(v))
        snprintf(out, n, "%s", json_is_true(v) ? "true" : "false");
    else if (json_is_number(v))
        snprintf(out, n, "%g", json_number_value(v));
    else
        out[0] = '\0';
    json_decref(j);
    return out;
}

/* ---- the processes ---------------------------------------------------------------------- */

/* The PIN file's first word ("" when unreadable). */
static void pin_file_word(const struct test_eccweb *w, char *out, size_t n)
{
    FILE *f = fopen(w->pin_file, "r");
    char word[32] = "";

    if (f) {
        if (fscanf(f, "%31s", word) != 1)
            word[0] = '\0';
        fclose(f);
    }
    snprintf(out, n, "%s", word);
}

/* eccd, then eccweb (tag, sets) beside it, then its first PIN file (written just after it
 * listens): 0, or -1 (finish ends whatever started). */
static int start_both(struct test_eccd *e, struct test_eccweb *w, const char *tag,
                      const char *const *sets)
{
    char pin[32] = "";

    memset(w, 0, sizeof *w);
    if (test_eccd_start(e, "san", eccd_args) != 0 || test_eccweb_start(w, e, "san", tag, sets) != 0)
        return -1;
    for (int i = 0; i < 250 && !pin[0]; i++) {         /* a bound of 5 s */
        pin_file_word(w, pin, sizeof pin);
        if (!pin[0])
            nanosleep(&(struct timespec){0, 20000000L}, NULL);
    }
    return strlen(pin) == 6 ? 0 : -1;
}

/* eccd's loop overruns from its status, or -1 when it did not answer. */
static long eccd_overruns(const struct test_eccd *e)
{
    static const char req[] = "{\"v\":1,\"cmd\":\"status\"}\n";
    struct reply r = {0};
    int fd = test_unix_dial(e->sock);
    json_t *st, *v;
    long n = -1;

    if (fd < 0)
        return -1;
    if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)sizeof req - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t k;
        while (!memchr(r.raw, '\n', r.len) && r.len + 1 < sizeof r.raw &&
               poll(&p, 1, REPLY_WAIT_MS) == 1 &&
               (k = recv(fd, r.raw + r.len, sizeof r.raw - 1 - r.len, 0)) > 0)
            r.len += (size_t)k;
    }
    close(fd);
    st = json_loadb(r.raw, r.len, JSON_DISABLE_EOF_CHECK, NULL);
    v = json_object_get(json_object_get(json_object_get(st, "status"), "loop"), "overruns");
    if (json_is_integer(v))
        n = (long)json_integer_value(v);
    json_decref(st);
    return n;
}

/* Every test's end: eccd's tick untouched, eccweb stopped clean, both gone. */
static void finish(struct test_eccweb *w, struct test_eccd *e)
{
    long overruns = w->pid > 0 ? eccd_overruns(e) : -1;

    if (w->pid > 0) {
        printf("  eccd's loop: %ld overruns\n", overruns);
        CHECK_INT(overruns, 0);
    }
    CHECK(test_eccweb_end(w) == 0);
    test_eccd_clean(e);
}

/* ---- the rig's own browser -------------------------------------------------------------- */

struct row {
    const char *what, *req;
    int want, want2;                /* either passes */
    const char *type;               /* Content-Type starts so (NULL: not checked) */
    const char *body_has;
};

static const struct row rows[] = {
    {"GET /", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 200, 200,
     "text/html", "<title>"},
    {"GET /app.js", "GET /app.js HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
     200, 200, "text/javascript", "EventSource"},
    {"GET /api/session", "GET /api/session HTTP/1.1\r\nHost: [::1]:80\r\nConnection: close"
     "\r\n\r\n", 200, 200, "application/json", "\"on_rig\":true"},
    {"GET /nope", "GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 404,
     404, "application/json", "not_found"},
    {"POST /", "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" JSON_HDRS
     "Content-Length: 2\r\n\r\n{}", 405, 405, "application/json", "\"method\""},
    {"Host: evil.example", "GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
     421, 421, "application/json", "unknown_host"},
    {"no Host, HTTP/1.1", "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 400, 400,
     "application/json", "no_host"},
    {"no Host, HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", 400, 400, "application/json", "no_host"},
    {"POST /api/stop, no X-Eccweb", "POST /api/stop HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     "Connection: close\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
     403, 403, "application/json", "not_from_the_page"},
    {"POST /api/pain {\"score\":11}", "POST /api/pain HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     "Connection: close\r\n" JSON_HDRS "Content-Length: 12\r\n\r\n{\"score\":11}", 400, 400,
     "application/json", "\"ok\":false"},
    {"POST /api/pain {\"score\":3}", "POST /api/pain HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     "Connection: close\r\n" JSON_HDRS "Content-Length: 11\r\n\r\n{\"score\":3}", 200, 404,
     "application/json", "\"ok\":"},
};

/* Status, type and body as the row says, and the security headers whatever the status. */
static bool row_ok(const struct row *row, const struct reply *r)
{
    char v[512];
    bool ok = (r->status == row->want || r->status == row->want2) &&
              (!row->body_has || strstr(r->body, row->body_has));

    if (row->type)
        ok = ok && header(r, "Content-Type", v, sizeof v) && !strncmp(v, row->type,
                                                                    strlen(row->type));
    ok = ok && header(r, "X-Content-Type-Options", v, sizeof v) && !strcmp(v, "nosniff");
    ok = ok && header(r, "Cache-Control", v, sizeof v) && !strcmp(v, "no-store");
    ok = ok && header(r, "Content-Security-Policy", v, sizeof v) &&
         strstr(v, "frame-ancestors 'none'");
    return ok;
}

static void run_rows(int port)
{
    static struct reply r;
    char type[128];

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        bool ok;
        exchange(port, rows[i].req, &r);
        ok = row_ok(&rows[i], &r);
        printf("  %-30s -> %d %s%s\n", rows[i].what, r.status,
               header(&r, "Content-Type", type, sizeof type) ? type : "(no type)",
               ok ? "" : "   <-- not as expected");
        CHECK(ok);
    }
}

/* GET /api/pin on the rig: the PIN in eccweb's PIN file, and when it expires. */
static void pin_is_the_file_s(const struct test_eccweb *w)
{
    static struct reply r;
    char pin[32], file[32], exp[32];

    CHECK_INT(get_status(w->port, "/api/pin", NULL, &r), 200);
    member(&r, "pin", pin, sizeof pin);
    pin_file_word(w, file, sizeof file);
    printf("  GET /api/pin: %s (the PIN file: %s), expires in %s s\n", pin, file,
           member(&r, "expires_s", exp, sizeof exp));
    CHECK(strlen(pin) == 6 && strspn(pin, "0123456789") == 6);
    CHECK(strcmp(pin, file) == 0);
    CHECK(atof(exp) > 0 && atof(exp) <= 600);
}

/* Two requests in one send on one connection: two replies, in order. */
static void two_requests_on_one_connection(int port)
{
    static const char two[] =
        "GET /api/session HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        "GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    static struct reply r;
    const char *second;

    exchange(port, two, &r);
    second = strstr(r.body, "HTTP/1.1 ");
    printf("  two requests on one connection: %d, then %d\n", r.status,
           second ? atoi(second + 9) : DROPPED);
    CHECK_INT(r.status, 200);
    CHECK(second && atoi(second + 9) == 404);
}

TEST(the_rig_s_browser_gets_each_reply_with_its_headers)
{
    struct test_eccd e = {0};
    struct test_eccweb w = {0};

    REQUIRE_OR_GOTO(start_both(&e, &w, "rig", NULL) == 0, out);
    run_rows(w.port);
    pin_is_the_file_s(&w);
    two_requests_on_one_connection(w.port);
out:
    finish(&w, &e);
}

/* ---- a phone ---------------------------------------------------------------------------- */

static const char *const phone[] = {"web.trust_loopback=false", "web.idle_timeout_s=2",
                                    "web.session_days=" SESSION_DAYS, "web.max_paired=1",
                                    NULL};

/* Pair with the PIN now in the file: the cookie's token into token (32 hex), the
 * Set-Cookie header into cookie. The status. */
static int pair_now(const struct test_eccweb *w, char token[33], char *cookie, size_t n)
{
    static struct reply r;
    char pin[32], body[64];
    int status;

    pin_file_word(w, pin, sizeof pin);
    snprintf(body, sizeof body, "{\"pin\":\"%s\"}", pin);
    status = post_status(w->port, "/api/pair", NULL, body, &r);
    token[0] = cookie[0] = '\0';
    if (header(&r, "Set-Cookie", cookie, n) && !strncmp(cookie, "eccweb=", 7))
        snprintf(token, 33, "%.32s", cookie + 7);
    return status;
}

/* Before pairing: it may watch, not control. */
static void unpaired_phone_is_refused(const struct test_eccweb *w)
{
    static struct reply r;
    char v[64];

    CHECK_INT(get_status(w->port, "/api/session", NULL, &r), 200);
    CHECK(!strcmp(member(&r, "control", v, sizeof v), "false"));
    CHECK_INT(post_status(w->port, "/api/stop", NULL, "{}", &r), 403);
    CHECK(!strcmp(member(&r, "error", v, sizeof v), "not_paired"));
    CHECK_INT(get_status(w->port, "/api/pin", NULL, &r), 403);
    CHECK_INT(get_status(w->port, "/api/export.csv", NULL, &r), 403);
}

/* The cookie's attributes: HttpOnly, SameSite=Strict, Path=/, Max-Age of session_days,
 * and no Secure over plain HTTP. */
static void cookie_is_right(const char *cookie, const char *token)
{
    printf("  Set-Cookie: %s\n", cookie);
    CHECK(strlen(token) == 32 && strspn(token, "0123456789abcdef") == 32);
    CHECK_STR_CONTAINS(cookie, "; HttpOnly");
    CHECK_STR_CONTAINS(cookie, "; SameSite=Strict");
    CHECK_STR_CONTAINS(cookie, "; Path=/");
    CHECK_STR_CONTAINS(cookie, "; Max-Age=172800");
    CHECK(!strstr(cookie, "Secure"));
}

/* With the cookie: paired, and stop reaches eccd (200 done, or 409 refused in its state). */
static void paired_phone_controls(const struct test_eccweb *w, const char *token)
{
    static struct reply r;
    char v[64];
    int stop;

    CHECK_INT(get_status(w->port, "/api/session", token, &r), 200);
    CHECK(!strcmp(member(&r, "paired", v, sizeof v), "true"));
    CHECK(!strcmp(member(&r, "control", v, sizeof v), "true"));
    stop = post_status(w->port, "/api/stop", token, "{}", &r);
    printf("  paired stop -> %d %s\n", stop, r.body);
    CHECK(stop == 200 || stop == 409);
    CHECK(!strcmp(member(&r, "cmd", v, sizeof v), "stop"));
}

/* The used PIN is gone from the file and pairs nothing; a forged token controls nothing. */
static void pin_and_token_are_not_reused(const struct test_eccweb *w, const char *used)
{
    static struct reply r;
    char body[64], now[32], v[64];

    pin_file_word(w, now, sizeof now);
    printf("  the PIN file after pairing with %s: %s\n", used, now);
    CHECK(strlen(now) == 6 && strcmp(now, used) != 0);
    snprintf(body, sizeof body, "{\"pin\":\"%s\"}", used);
    CHECK_INT(post_status(w->port, "/api/pair", NULL, body, &r), 403);
    CHECK(!strcmp(member(&r, "error", v, sizeof v), "wrong_pin"));
    CHECK_INT(post_status(w->port, "/api/stop", "0123456789abcdef0123456789abcdef", "{}", &r),
              403);
}

/* A second phone pairs with the new PIN; max_paired = 1 forgets the first. Then the
 * second unpairs: its cookie is cleared and controls nothing. */
static void second_phone_and_unpair(const struct test_eccweb *w, const char *first)
{
    static struct reply r;
    char token[33], cookie[256];

    CHECK_INT(pair_now(w, token, cookie, sizeof cookie), 200);
    CHECK_INT(post_status(w->port, "/api/stop", first, "{}", &r), 403);
    CHECK(post_status(w->port, "/api/stop", token, "{}", &r) == 200 || r.status == 409);
    CHECK_INT(post_status(w->port, "/api/unpair", token, "{}", &r), 200);
    CHECK(header(&r, "Set-Cookie", cookie, sizeof cookie) && strstr(cookie, "Max-Age=0"));
    CHECK_INT(post_status(w->port, "/api/stop", token, "{}", &r), 403);
    printf("  a second phone paired (the first forgotten: max_paired 1), then unpaired\n");
}

TEST(a_phone_pairs_once_and_controls_with_its_cookie)
{
    struct test_eccd e = {0};
    struct test_eccweb w = {0};
    char pin[32], token[33], cookie[256];

    REQUIRE_OR_GOTO(start_both(&e, &w, "phone", phone) == 0, out);
    unpaired_phone_is_refused(&w);
    pin_file_word(&w, pin, sizeof pin);
    REQUIRE_OR_GOTO(strlen(pin) == 6, out);
    CHECK_INT(pair_now(&w, token, cookie, sizeof cookie), 200);
    cookie_is_right(cookie, token);
    paired_phone_controls(&w, token);
    pin_and_token_are_not_reused(&w, pin);
    second_phone_and_unpair(&w, token);
out:
    finish(&w, &e);
}

/* ---- wrong PINs ------------------------------------------------------------------------- */

static const char *const guessed[] = {"web.trust_loopback=false", "web.idle_timeout_s=2",
                                      "web.pin_tries=3", "web.pin_lockout_s=60", NULL};

/* /api/session's pairing_locked and pairing_retry_s. */
static bool session_says_locked(int port, double *retry)
{
    static struct reply r;
    char v[64];

    get_status(port, "/api/session", NULL, &r);
    *retry = atof(member(&r, "pairing_retry_s", v, sizeof v));
    return !strcmp(member(&r, "pairing_locked", v, sizeof v), "true");
}

TEST(wrong_pins_from_anyone_lock_pairing)
{
    struct test_eccd e = {0};
    struct test_eccweb w = {0};
    static struct reply r;
    char pin[32], body[64], file[32];
    int codes[3], bad, right;
    double retry = 0;

    REQUIRE_OR_GOTO(start_both(&e, &w, "guess", guessed) == 0, out);
    pin_file_word(&w, pin, sizeof pin);
    REQUIRE_OR_GOTO(strlen(pin) == 6, out);
    snprintf(body, sizeof body, "{\"pin\":\"%06d\"}", (atoi(pin) + 1) % 1000000);
    bad = post_status(w.port, "/api/pair", NULL, "{\"pin\":\"12345\"}", &r);  /* no try */
    for (int i = 0; i < 3; i++)
        codes[i] = post_status(w.port, "/api/pair", NULL, body, &r);
    CHECK_STR_CONTAINS(r.body, "\"locked\"");
    snprintf(body, sizeof body, "{\"pin\":\"%s\"}", pin);
    right = post_status(w.port, "/api/pair", NULL, body, &r);
    pin_file_word(&w, file, sizeof file);
    printf("  a 5-digit PIN: %d; three wrong: %d %d %d; the right one: %d; the PIN file: %s\n",
           bad, codes[0], codes[1], codes[2], right, file);
    CHECK(bad == 400 && codes[0] == 403 && codes[1] == 403 && codes[2] == 429 && right == 429);
    CHECK(!strcmp(file, "locked"));
    CHECK(session_says_locked(w.port, &retry));
    printf("  /api/session: locked, retry in %.0f s\n", retry);
    CHECK(retry > 0 && retry <= 60);
out:
    finish(&w, &e);
}

/* ---- a live page ------------------------------------------------------------------------ */

#define EVENTS_WANTED 120           /* 6 s of watch lines at 20 Hz: 3 idle timeouts */

/* Read the stream until want "data: " events came (or it closed, or fell silent): their
 * count; *json_ok counts those that parse as JSON with a "watch" member. */
static int read_events(int fd, int want, int *json_ok)
{
    static char buf[1 << 16];
    size_t len = 0;
    int n = 0;

    *json_ok = 0;
    while (n < want) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t k;
        char *end;
        if (poll(&p, 1, REPLY_WAIT_MS) != 1 ||
            (k = recv(fd, buf + len, sizeof buf - 1 - len, 0)) <= 0)
            break;
        len += (size_t)k;
        buf[len] = '\0';
        while ((end = strstr(buf, "\n\n"))) {
            char *data = strstr(buf, "data: ");
            if (data && data < end) {
                json_t *j = json_loadb(data + 6, (size_t)(end - data - 6), 0, NULL);
                *json_ok += json_object_get(j, "watch") != NULL;
                json_decref(j);
                n++;
            }
            len -= (size_t)(end + 2 - buf);
            memmove(buf, end + 2, len + 1);
        }
        if (len == sizeof buf - 1)
            break;
    }
    return n;
}

TEST(a_live_page_gets_watch_lines_past_the_idle_timeout)
{
    static const char *const sets[] = {"web.idle_timeout_s=2", NULL};
    struct test_eccd e = {0};
    struct test_eccweb w = {0};
    static struct reply head;
    char req[256], type[128];
    int fd = -1, n, watch = 0;

    REQUIRE_OR_GOTO(start_both(&e, &w, "live", sets) == 0, out);
    REQUIRE_OR_GOTO((fd = test_tcp_dial(w.port)) >= 0, out);
    get(req, sizeof req, "/events", NULL);
    REQUIRE_OR_GOTO(send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req), out);
    n = read_events(fd, EVENTS_WANTED, &watch);
    printf("  GET /events: %d events read (%d watch lines as JSON) over 3 idle timeouts\n", n,
           watch);
    CHECK_INT(n, EVENTS_WANTED);
    CHECK(watch >= EVENTS_WANTED - 2);   /* a link-down event or two while eccd starts */
    CHECK_INT(get_status(w.port, "/api/status", NULL, &head), 200);
    CHECK(header(&head, "Content-Type", type, sizeof type) && !strcmp(type, "application/json"));
    CHECK_STR_CONTAINS(head.body, "\"watch\"");
out:
    if (fd >= 0)
        close(fd);
    finish(&w, &e);
}

TESTS(T(the_rig_s_browser_gets_each_reply_with_its_headers),
      T(a_phone_pairs_once_and_controls_with_its_cookie), T(wrong_pins_from_anyone_lock_pairing),
      T(a_live_page_gets_watch_lines_past_the_idle_timeout));
TEST_MAIN("test_web_http")
