/* test_web_requests.c - every eccweb endpoint against good and bad requests, through the
 * real eccweb (san) and eccd (san) on the simulated rig, with raw TCP clients:
 *   - a table of requests, each raw bytes and what must come back (a status, or the
 *     connection dropped): the page, unknown paths and methods, foreign Host names, missing
 *     headers, bodies too large, malformed request lines, headers over the limit, the write
 *     checks (X-Eccweb, JSON, Origin), bad pain scores and PINs;
 *   - slow clients (half a request head, then nothing) are closed after idle_timeout_s;
 *   - 100 connections at once are each served or closed, and eccweb answers afterwards;
 *   - wrong PINs lock pairing: the right PIN is refused while locked;
 *   - 400 seeded random and mutated requests are each answered or dropped;
 * and at the end eccweb is alive, exits 0 on SIGTERM with the sanitizers quiet, and eccd's
 * loop reports no overrun: nothing eccweb was sent reached the control tick.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/test.h"

#define REPLY_WAIT_MS 5000
#define DROPPED (-1)
#define FUZZ_N 400
#define CONNS 100

static const char *const eccd_args[] = {"--set", "sim.speed=1", "--duration", "600", NULL};
/* A short idle timeout, so that the slow clients are closed soon. */
static const char *const quick[] = {"web.idle_timeout_s=2", NULL};

/* Send raw bytes, then read the reply until the server closes or REPLY_WAIT_MS of
 * silence: the status code, or DROPPED when nothing came back. The reply is at buf. */
static int exchange(int port, const char *req, size_t len, char *buf, size_t n)
{
    int fd = test_tcp_dial(port), status = DROPPED;
    size_t got = 0;

    if (fd < 0)
        return DROPPED;
    if (len && send(fd, req, len, MSG_NOSIGNAL) < 0) {
        close(fd);
        return DROPPED;
    }
    shutdown(fd, SHUT_WR);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t k;
        if (got + 1 >= n || poll(&p, 1, REPLY_WAIT_MS) != 1)
            break;
        if ((k = recv(fd, buf + got, n - 1 - got, 0)) <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    buf[got] = '\0';
    if (got > 12 && !strncmp(buf, "HTTP/1.", 7))
        status = atoi(buf + 9);
    return status;
}

static int request(int port, const char *req, char *buf, size_t n)
{
    return exchange(port, req, strlen(req), buf, n);
}

/* A POST with these extra header lines and body. */
static void post(char *out, size_t n, int port, const char *path, const char *headers,
                 const char *body)
{
    snprintf(out, n, "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s"
             "Content-Length: %zu\r\n\r\n%s", path, port, headers, strlen(body), body);
}

#define JSON_HDRS "Content-Type: application/json\r\nX-Eccweb: 1\r\n"

struct row {
    const char *what;
    char req[4096];
    int want, want2;                /* either status passes (DROPPED counts as one) */
    const char *body_has;
};

static void run_rows(const struct test_eccweb *w, struct row *rows, int n)
{
    static char buf[1 << 16];

    for (int i = 0; i < n; i++) {
        int got = request(w->port, rows[i].req, buf, sizeof buf);
        bool ok = got == rows[i].want || got == rows[i].want2;
        if (ok && rows[i].body_has && !strstr(buf, rows[i].body_has))
            ok = false;
        printf("  %-44s -> %s%d%s\n", rows[i].what, got == DROPPED ? "dropped " : "",
               got == DROPPED ? 0 : got, ok ? "" : "   <-- not as expected");
        CHECK(ok);
    }
}

static void every_endpoint_answers_good_and_bad_requests(void)
{
    struct test_eccd e;
    struct test_eccweb w = {0};
    static struct row rows[32];
    char big[3000];
    static char longhead[20000];
    int n = 0, p;

    REQUIRE(test_eccd_start(&e, "san", eccd_args) == 0);
    REQUIRE_OR_GOTO(test_eccweb_start(&w, &e, "san", "t", quick) == 0, out);
    p = w.port;
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
#define ROW(w_, want_, want2_, has_, ...)                                          \
    do {                                                                           \
        rows[n] = (struct row){.what = w_, .want = want_, .want2 = want2_, .body_has = has_}; \
        snprintf(rows[n].req, sizeof rows[n].req, __VA_ARGS__);                    \
        n++;                                                                       \
    } while (0)
    ROW("GET /", 200, 200, "<title>eccd: live</title>",
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", p);
    ROW("GET /app.js", 200, 200, "EventSource",
        "GET /app.js HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n\r\n", p);
    ROW("GET /api/session", 200, 200, "\"control\":true",
        "GET /api/session HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    ROW("GET /api/history?days=7", 200, 200, "\"sessions\"",
        "GET /api/history?days=7 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    ROW("GET /api/history?days=0", 400, 400, "bad_request",
        "GET /api/history?days=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    ROW("GET /api/history?days=1x", 400, 400, "bad_request",
        "GET /api/history?days=1x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    ROW("GET /api/export.csv?days=-1", 400, 400, "bad_request",
        "GET /api/export.csv?days=-1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    ROW("GET /nope", 404, 404, "not_found",
        "GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    ROW("GET /../../etc/passwd", 404, 400, NULL,
        "GET /../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    ROW("DELETE /api/stop", 405, 405, "method",
        "DELETE /api/stop HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    ROW("GET /api/stop (a write as GET)", 405, 405, NULL,
        "GET /api/stop HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    ROW("Host: evil.example (DNS rebinding)", 421, 421, "unknown_host",
        "GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n");
    ROW("no Host (HTTP/1.1)", 400, 400, "no_host", "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    ROW("malformed request line", 400, DROPPED, NULL, "GARBAGE\r\n\r\n");
    ROW("POST /api/stop without X-Eccweb", 403, 403, "not_from_the_page", "%s", "");
    post(rows[n - 1].req, sizeof rows[n - 1].req, p, "/api/stop",
         "Content-Type: application/json\r\n", "{}");
    ROW("POST /api/stop as text/plain", 415, 415, "not_json", "%s", "");
    post(rows[n - 1].req, sizeof rows[n - 1].req, p, "/api/stop",
         "Content-Type: text/plain\r\nX-Eccweb: 1\r\n", "{}");
    ROW("POST /api/stop from another site", 403, 403, "cross_origin", "%s", "");
    post(rows[n - 1].req, sizeof rows[n - 1].req, p, "/api/stop",
         JSON_HDRS "Origin: http://evil.example\r\n", "{}");
    ROW("POST /api/pain 11", 400, 400, "0 to 10", "%s", "");
    post(rows[n - 1].req, sizeof rows[n - 1].req, p, "/api/pain", JSON_HDRS, "{\"score\":11}");
    ROW("POST /api/pain 3.5", 400, 400, "bad_request", "%s", "");
    post(rows[n - 1].req, sizeof rows[n - 1].req, p, "/api/pain", JSON_HDRS, "{\"score\":3.5}");
    ROW("POST /api/pain not JSON", 400, 400, "bad_request", "%s", "");
    post(rows[n - 1].req, sizeof rows[n - 1].req, p, "/api/pain", JSON_HDRS, "{score:3");
    ROW("POST /api/pain with an extra member", 400, 400, "nothing else", "%s", "");
    post(rows[n - 1].req, sizeof rows[n - 1].req, p, "/api/pain", JSON_HDRS,
         "{\"score\":3,\"x\":1}");
    ROW("POST /api/pain 3 (ok, or no set yet)", 200, 404, "\"cmd\":\"pain\"", "%s", "");
    post(rows[n - 1].req, sizeof rows[n - 1].req, p, "/api/pain", JSON_HDRS, "{\"score\":3}");
    ROW("POST /api/pain, body over 1 KiB", 413, DROPPED, NULL, "%s", "");
    post(rows[n - 1].req, sizeof rows[n - 1].req, p, "/api/pain", JSON_HDRS, big);
    ROW("POST /api/morning 11", 400, 400, "0 to 10", "%s", "");
    post(rows[n - 1].req, sizeof rows[n - 1].req, p, "/api/morning", JSON_HDRS, "{\"score\":11}");
    ROW("POST /api/morning 2", 200, 200, "\"cmd\":\"morning\"", "%s", "");
    post(rows[n - 1].req, sizeof rows[n - 1].req, p, "/api/morning", JSON_HDRS, "{\"score\":2}");
    ROW("POST /api/start, allow_start off", 403, 403, "not_allowed", "%s", "");
    post(rows[n - 1].req, sizeof rows[n - 1].req, p, "/api/start", JSON_HDRS, "{}");
    ROW("POST /api/pair, 5 digits", 400, 400, "bad_pin", "%s", "");
    post(rows[n - 1].req, sizeof rows[n - 1].req, p, "/api/pair", JSON_HDRS, "{\"pin\":\"12345\"}");
    ROW("POST /api/pair, a number", 400, 400, "bad_request", "%s", "");
    post(rows[n - 1].req, sizeof rows[n - 1].req, p, "/api/pair", JSON_HDRS, "{\"pin\":123456}");
    ROW("GET /api/pin on the rig", 200, 200, "\"pin\":\"", "GET /api/pin HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\nConnection: close\r\n\r\n");
    ROW("POST /api/stop on the rig (eccd answers)", 200, 409, "\"cmd\":\"stop\"", "%s", "");
    post(rows[n - 1].req, sizeof rows[n - 1].req, p, "/api/stop", JSON_HDRS, "{}");
#undef ROW
    /* A header over the limit (the table's rows hold 4 KiB). */
    snprintf(longhead, sizeof longhead, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: ");
    memset(longhead + strlen(longhead), 'a', 17000);
    strcpy(longhead + strlen("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: ") + 17000, "\r\n\r\n");
    run_rows(&w, rows, n);
    {
        static char buf[4096];
        int got = exchange(p, longhead, strlen(longhead), buf, sizeof buf);
        printf("  %-44s -> %s%d\n", "a header over 16 KiB, whole", got == DROPPED ? "dropped " : "",
               got == DROPPED ? 0 : got);
        CHECK(got == 431 || got == 413 || got == DROPPED);
    }
out:
    CHECK(test_eccweb_end(&w) == 0);
    test_eccd_clean(&e);
}

/* A client that sends half a head and waits: eccweb closes it (idle_timeout_s = 2). */
static void a_slow_client_is_closed(void)
{
    struct test_eccd e;
    struct test_eccweb w = {0};
    const char half[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    int fd;
    struct pollfd pf;
    char buf[256];
    ssize_t k = 1;

    REQUIRE(test_eccd_start(&e, "san", eccd_args) == 0);
    REQUIRE_OR_GOTO(test_eccweb_start(&w, &e, "san", "slow", quick) == 0, out);
    fd = test_tcp_dial(w.port);
    CHECK(fd >= 0 && send(fd, half, sizeof half - 1, MSG_NOSIGNAL) > 0);
    pf = (struct pollfd){.fd = fd, .events = POLLIN};
    if (poll(&pf, 1, 20000) == 1)          /* a bound, ten times the timeout */
        k = recv(fd, buf, sizeof buf, 0);
    printf("  half a request head, then silence: %s\n",
           k <= 0 ? "closed by eccweb" : "still open after 20 s");
    CHECK(k <= 0);
    if (fd >= 0)
        close(fd);
out:
    CHECK(test_eccweb_end(&w) == 0);
    test_eccd_clean(&e);
}

/* CONNS connections at once: each served or closed; eccweb answers afterwards. */
static void many_connections_are_bounded(void)
{
    struct test_eccd e;
    struct test_eccweb w = {0};
    int fds[CONNS], served = 0, closed = 0, hung = 0;
    static char buf[1 << 15];
    char req[128];

    REQUIRE(test_eccd_start(&e, "san", eccd_args) == 0);
    REQUIRE_OR_GOTO(test_eccweb_start(&w, &e, "san", "many", quick) == 0, out);
    snprintf(req, sizeof req, "GET /api/session HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Connection: close\r\n\r\n");
    for (int i = 0; i < CONNS; i++)
        fds[i] = test_tcp_dial(w.port);
    for (int i = 0; i < CONNS; i++) {
        struct pollfd pf = {.fd = fds[i], .events = POLLIN};
        ssize_t k = 0;
        if (fds[i] < 0) {
            closed++;
            continue;
        }
        send(fds[i], req, strlen(req), MSG_NOSIGNAL);
        if (poll(&pf, 1, 10000) == 1)
            k = recv(fds[i], buf, sizeof buf, 0);
        else
            hung++;
        if (k > 0 && !strncmp(buf, "HTTP/1.1 200", 12))
            served++;
        else if (k <= 0)
            closed += poll(&pf, 1, 0) == 1;
        close(fds[i]);
    }
    printf("  %d connections at once: %d served, %d closed, %d neither within 10 s\n", CONNS,
           served, closed, hung);
    CHECK(hung == 0);
    CHECK(served >= 1 && served + closed == CONNS);
    CHECK(request(w.port, req, buf, sizeof buf) == 200);
out:
    CHECK(test_eccweb_end(&w) == 0);
    test_eccd_clean(&e);
}

/* Wrong PINs from an untrusted client lock pairing; the right PIN is then refused. */
static void wrong_pins_lock_pairing(void)
{
    static const char *const lan[] = {"web.idle_timeout_s=2", "web.trust_loopback=false",
                                      "web.pin_tries=3", NULL};
    struct test_eccd e;
    struct test_eccweb w = {0};
    char req[512], path[192], pin[16] = "", body[64], wrong[16];
    static char buf[8192];
    FILE *f;
    int codes[4];

    REQUIRE(test_eccd_start(&e, "san", eccd_args) == 0);
    REQUIRE_OR_GOTO(test_eccweb_start(&w, &e, "san", "pin", lan) == 0, out);
    snprintf(path, sizeof path, "%s/pin-pin", e.dir);
    if ((f = fopen(path, "r"))) {
        CHECK(fscanf(f, "%15s", pin) == 1);
        fclose(f);
    }
    post(req, sizeof req, w.port, "/api/stop", JSON_HDRS, "{}");
    CHECK(request(w.port, req, buf, sizeof buf) == 403);
    CHECK_STR_CONTAINS(buf, "not_paired");
    snprintf(req, sizeof req, "GET /api/pin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    CHECK(request(w.port, req, buf, sizeof buf) == 403);
    snprintf(wrong, sizeof wrong, "%06d", (atoi(pin) + 1) % 1000000);
    snprintf(body, sizeof body, "{\"pin\":\"%s\"}", wrong);
    for (int i = 0; i < 3; i++) {
        post(req, sizeof req, w.port, "/api/pair", JSON_HDRS, body);
        codes[i] = request(w.port, req, buf, sizeof buf);
    }
    snprintf(body, sizeof body, "{\"pin\":\"%s\"}", pin);
    post(req, sizeof req, w.port, "/api/pair", JSON_HDRS, body);
    codes[3] = request(w.port, req, buf, sizeof buf);
    printf("  three wrong PINs: %d %d %d; then the right one: %d\n", codes[0], codes[1],
           codes[2], codes[3]);
    CHECK(codes[0] == 403 && codes[1] == 403 && codes[2] == 429 && codes[3] == 429);
    CHECK_STR_CONTAINS(buf, "locked");
out:
    CHECK(test_eccweb_end(&w) == 0);
    test_eccd_clean(&e);
}

/* Seeded random and mutated requests: each answered or dropped; eccweb lives on; eccd's
 * loop had no overrun. */
static void random_requests_change_nothing(void)
{
    struct test_eccd e;
    struct test_eccweb w = {0};
    static const char *const seeds[] = {
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "POST /api/pain HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "X-Eccweb: 1\r\nContent-Length: 11\r\n\r\n{\"score\":3}",
        "POST /api/pair HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "X-Eccweb: 1\r\nContent-Length: 16\r\n\r\n{\"pin\":\"123456\"}",
        "GET /api/history?days=7 HTTP/1.1\r\nHost: [::1]:80\r\nCookie: eccweb=00ff\r\n\r\n",
        "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    };
    static char req[8192], buf[1 << 15];
    unsigned seed = 12345;
    int answered = 0, dropped = 0, status;
    char sreq[] = "{\"v\":1,\"cmd\":\"status\"}\n";
    json_t *st;
    ssize_t k;
    int fd;

    REQUIRE(test_eccd_start(&e, "san", eccd_args) == 0);
    REQUIRE_OR_GOTO(test_eccweb_start(&w, &e, "san", "fuzz", quick) == 0, out);
    for (int i = 0; i < FUZZ_N; i++) {
        size_t len;
        srand(seed + (unsigned)i);
        if (i % 4 == 0) {                               /* random bytes */
            len = (size_t)(rand() % 600);
            for (size_t j = 0; j < len; j++)
                req[j] = (char)(rand() % 256);
        } else {                                        /* a request with bytes changed */
            const char *s = seeds[rand() % (int)(sizeof seeds / sizeof seeds[0])];
            len = strlen(s);
            memcpy(req, s, len);
            for (int m = 0; m < 1 + rand() % 6; m++)
                req[rand() % (int)len] = (char)(rand() % 256);
        }
        status = exchange(w.port, req, len, buf, sizeof buf);
        if (status == DROPPED)
            dropped++;
        else
            answered++;
        if (waitpid(w.pid, NULL, WNOHANG) != 0)
            break;
    }
    printf("  %d seeded random requests: %d answered, %d dropped\n", FUZZ_N, answered, dropped);
    CHECK(answered + dropped == FUZZ_N);
    snprintf(req, sizeof req, "GET /api/session HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    CHECK(request(w.port, req, buf, sizeof buf) == 200);
    /* eccd's own view of its loop. */
    fd = test_unix_dial(e.sock);
    k = 0;
    if (fd >= 0 && send(fd, sreq, sizeof sreq - 1, MSG_NOSIGNAL) > 0) {
        ssize_t r;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        while ((size_t)k < sizeof buf - 1 && !memchr(buf, '\n', (size_t)k) &&
               poll(&pf, 1, REPLY_WAIT_MS) == 1 &&
               (r = recv(fd, buf + k, sizeof buf - 1 - (size_t)k, 0)) > 0)
            k += r;
    }
    if (fd >= 0)
        close(fd);
    buf[k > 0 ? k : 0] = '\0';
    st = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
    printf("  eccd's loop: %lld overruns\n", (long long)json_integer_value(json_object_get(
           json_object_get(json_object_get(st, "status"), "loop"), "overruns")));
    CHECK(json_is_integer(json_object_get(json_object_get(json_object_get(st, "status"), "loop"),
                                          "overruns")));
    CHECK(json_integer_value(json_object_get(json_object_get(json_object_get(st, "status"),
                                                             "loop"), "overruns")) == 0);
    json_decref(st);
out:
    CHECK(test_eccweb_end(&w) == 0);
    test_eccd_clean(&e);
}

TESTS(T(every_endpoint_answers_good_and_bad_requests), T(a_slow_client_is_closed),
      T(many_connections_are_bounded), T(wrong_pins_lock_pairing),
      T(random_requests_change_nothing));
TEST_MAIN("test_web_requests")
