/* test_web_units.c - eccweb's pure parts at their edges: pairing (PIN, lock-out, sessions;
 * a new PIN never the one before, even from a source that offers it again) on times passed
 * in with a scripted random source, the request policy as tables, and the live hub's
 * fan-out (a slow reader skips and is told, a half-sent event ended first; a long event
 * goes out in pieces; the size limit exact; a stop ends every read). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/test.h"
#include "web/hub.h"
#include "web/pairing.h"
#include "web/policy.h"

/* ---- pairing ------------------------------------------------------------------------- */

struct rnd {
    unsigned state;
    bool fail;
};

static int scripted_random(void *arg, void *buf, size_t n)
{
    struct rnd *r = arg;
    unsigned char *p = buf;

    if (r->fail)
        return -1;
    for (size_t i = 0; i < n; i++) {
        r->state = r->state * 1103515245u + 12345u;
        p[i] = (unsigned char)(r->state >> 16);
    }
    return 0;
}

static const struct pairing_opts opts = {
    .pin_lifetime_s = 600, .tries = 3, .lockout_s = 300, .session_s = 1000, .max_sessions = 2};

TEST(a_pin_lives_its_lifetime_and_is_replaced_after)
{
    struct rnd r = {1, false};
    struct pairing *p = pairing_open(&opts, scripted_random, &r);
    char a[PAIRING_PIN_LEN + 1], b[PAIRING_PIN_LEN + 1];
    double until;

    REQUIRE(p);
    CHECK_INT(pairing_pin(p, 0, a, &until), 1);            /* new: write it out */
    CHECK_INT((int)strlen(a), PAIRING_PIN_LEN);
    CHECK(strspn(a, "0123456789") == PAIRING_PIN_LEN);
    CHECK(until == 600);
    CHECK_INT(pairing_pin(p, 599.9, b, &until), 0);        /* the same one */
    CHECK_STR_CONTAINS(b, a);
    CHECK_INT(pairing_pin(p, 600, b, &until), 1);          /* expired: another */
    CHECK(strcmp(a, b) != 0);
    CHECK(until == 1200);
    pairing_close(p);
}

TEST(a_pin_pairs_once_and_gives_a_token)
{
    struct rnd r = {2, false};
    struct pairing *p = pairing_open(&opts, scripted_random, &r);
    char pin[PAIRING_PIN_LEN + 1], next[PAIRING_PIN_LEN + 1], tok[PAIRING_TOKEN_LEN + 1];
    double until, retry;

    REQUIRE(p);
    pairing_pin(p, 10, pin, &until);
    CHECK_INT(pairing_try(p, 11, pin, tok, &retry), PAIRING_OK);
    CHECK_INT((int)strlen(tok), PAIRING_TOKEN_LEN);
    CHECK(strspn(tok, "0123456789abcdef") == PAIRING_TOKEN_LEN);
    CHECK(pairing_check(p, 12, tok));
    CHECK_INT(pairing_try(p, 13, pin, tok, &retry), PAIRING_WRONG);    /* used up */
    CHECK_INT(pairing_pin(p, 14, next, &until), 1);
    CHECK(strcmp(next, pin) != 0);
    pairing_close(p);
}

TEST(wrong_pins_lock_pairing_and_replace_the_pin)
{
    struct rnd r = {3, false};
    struct pairing *p = pairing_open(&opts, scripted_random, &r);
    char pin[PAIRING_PIN_LEN + 1], wrong[16], tok[PAIRING_TOKEN_LEN + 1];
    char after[PAIRING_PIN_LEN + 1];
    double until, retry = 0;

    REQUIRE(p);
    pairing_pin(p, 0, pin, &until);
    snprintf(wrong, sizeof wrong, "%06d", (atoi(pin) + 1) % 1000000);
    CHECK_INT(pairing_try(p, 1, "12345", tok, &retry), PAIRING_MALFORMED);  /* not a try */
    CHECK_INT(pairing_try(p, 1, "abcdef", tok, &retry), PAIRING_MALFORMED);
    CHECK_INT(pairing_try(p, 1, "1234567", tok, &retry), PAIRING_MALFORMED);
    CHECK_INT(pairing_try(p, 1, NULL, tok, &retry), PAIRING_MALFORMED);
    CHECK_INT(pairing_try(p, 2, wrong, tok, &retry), PAIRING_WRONG);
    CHECK_INT(pairing_try(p, 3, wrong, tok, &retry), PAIRING_WRONG);
    CHECK_INT(pairing_try(p, 4, wrong, tok, &retry), PAIRING_LOCKED);       /* the third */
    CHECK(retry == 300);
    CHECK_INT(pairing_try(p, 5, pin, tok, &retry), PAIRING_LOCKED);         /* even the right one */
    CHECK(retry == 299);
    CHECK_INT(pairing_pin(p, 100, after, &until), -1);                      /* none to show */
    CHECK(until == 304);
    CHECK_INT(pairing_pin(p, 304, after, &until), 1);                       /* a new one */
    CHECK(strcmp(after, pin) != 0);
    CHECK_INT(pairing_try(p, 305, pin, tok, &retry), PAIRING_WRONG);        /* the old is gone */
    CHECK_INT(pairing_try(p, 306, after, tok, &retry), PAIRING_OK);
    pairing_close(p);
}

TEST(sessions_expire_refresh_and_make_room)
{
    struct rnd r = {4, false};
    struct pairing *p = pairing_open(&opts, scripted_random, &r);
    char pin[PAIRING_PIN_LEN + 1], t1[PAIRING_TOKEN_LEN + 1], t2[PAIRING_TOKEN_LEN + 1];
    char t3[PAIRING_TOKEN_LEN + 1];
    double until, retry;

    REQUIRE(p);
    pairing_pin(p, 0, pin, &until);
    CHECK_INT(pairing_try(p, 0, pin, t1, &retry), PAIRING_OK);
    pairing_pin(p, 1, pin, &until);
    CHECK_INT(pairing_try(p, 1, pin, t2, &retry), PAIRING_OK);
    CHECK_INT(pairing_count(p, 2), 2);
    CHECK(pairing_check(p, 999, t1));             /* used: its life starts again */
    CHECK(!pairing_check(p, 1001, t2));           /* 1000 s unused: gone */
    CHECK(pairing_check(p, 1998, t1));
    pairing_pin(p, 1999, pin, &until);
    CHECK_INT(pairing_try(p, 1999, pin, t3, &retry), PAIRING_OK);
    CHECK(pairing_check(p, 2000, t3));
    CHECK(pairing_check(p, 2000, t1));            /* max 2: t2's expired slot was reused */
    pairing_pin(p, 2001, pin, &until);
    CHECK_INT(pairing_try(p, 2001, pin, t2, &retry), PAIRING_OK);  /* full: least recent goes */
    CHECK_INT(pairing_count(p, 2002), 2);
    pairing_forget(p, t2);
    CHECK(!pairing_check(p, 2003, t2));
    CHECK(!pairing_check(p, 2003, "0123"));
    CHECK(!pairing_check(p, 2003, NULL));
    pairing_close(p);
}

TEST(no_random_numbers_no_pin)
{
    struct rnd r = {5, true};
    struct pairing *p = pairing_open(&opts, scripted_random, &r);
    char pin[PAIRING_PIN_LEN + 1], tok[PAIRING_TOKEN_LEN + 1];
    double until, retry;

    REQUIRE(p);
    CHECK_INT(pairing_pin(p, 0, pin, &until), -1);
    CHECK_INT(pairing_try(p, 0, "123456", tok, &retry), PAIRING_WRONG);
    pairing_close(p);
}

/* A scripted source: a PIN's 4-byte draws come from draws[] in order (then the last, again
 * and again); a token's bytes are a counter, or fail when fail_tokens. With repeats[] every
 * new PIN is first offered the one before it, so only pairing's own check makes it new. */
struct replay {
    const uint32_t *draws;
    int n, next;
    unsigned char counter;
    bool fail_tokens;
};

static int replayed_random(void *arg, void *buf, size_t n)
{
    struct replay *r = arg;

    if (n == sizeof(uint32_t)) {
        uint32_t v = r->draws[r->next < r->n ? r->next : r->n - 1];
        r->next++;
        memcpy(buf, &v, sizeof v);
        return 0;
    }
    if (r->fail_tokens)
        return -1;
    memset(buf, ++r->counter, n);
    return 0;
}

static const uint32_t repeats[] = {111111, 111111, 222222, 222222, 333333, 333333, 444444};

/* pairing_pin at now: its return code, the PIN into pin. */
static int pin_at(struct pairing *p, double now, char pin[PAIRING_PIN_LEN + 1])
{
    double until;

    return pairing_pin(p, now, pin, &until);
}

/* A PIN is replaced after it expires and once it is used, never by the one it replaces,
 * even when the random source offers that one first. */
TEST(a_new_pin_is_never_the_one_before)
{
    struct replay r = {repeats, (int)(sizeof repeats / sizeof repeats[0]), 0, 0, false};
    struct pairing *p = pairing_open(&opts, replayed_random, &r);
    char a[PAIRING_PIN_LEN + 1], b[PAIRING_PIN_LEN + 1], c[PAIRING_PIN_LEN + 1];
    char tok[PAIRING_TOKEN_LEN + 1];
    double retry;

    REQUIRE(p);
    CHECK_INT(pin_at(p, 0, a), 1);
    CHECK_INT(pin_at(p, 600, b), 1);                            /* expired */
    CHECK_INT(pairing_try(p, 601, b, tok, &retry), PAIRING_OK);
    CHECK_INT(pin_at(p, 602, c), 1);                            /* used */
    printf("  PINs: %s, after it expired %s, after that was used %s\n", a, b, c);
    CHECK_STR_CONTAINS(a, "111111");
    CHECK_STR_CONTAINS(b, "222222");
    CHECK(strcmp(c, b) != 0);
    CHECK_INT(pairing_try(p, 603, b, tok, &retry), PAIRING_WRONG);
    pairing_close(p);
}

/* The same after a lock-out: the PIN guessed at is not shown again. */
TEST(a_pin_after_a_lockout_is_new)
{
    struct replay r = {repeats, (int)(sizeof repeats / sizeof repeats[0]), 0, 0, false};
    struct pairing *p = pairing_open(&opts, replayed_random, &r);
    char a[PAIRING_PIN_LEN + 1], b[PAIRING_PIN_LEN + 1], tok[PAIRING_TOKEN_LEN + 1];
    double retry = 0;

    REQUIRE(p);
    CHECK_INT(pin_at(p, 0, a), 1);
    for (int i = 0; i < opts.tries; i++)
        pairing_try(p, 1, "000000", tok, &retry);
    CHECK_INT(pin_at(p, 2, b), -1);                             /* locked */
    CHECK_INT(pairing_try(p, 2, a, tok, &retry), PAIRING_LOCKED);
    CHECK(retry > 0);
    CHECK_INT(pin_at(p, 1 + opts.lockout_s, b), 1);
    printf("  PIN %s, after the lock-out %s\n", a, b);
    CHECK(strcmp(b, a) != 0);
    CHECK_INT(pairing_try(p, 2 + opts.lockout_s, b, tok, &retry), PAIRING_OK);
    pairing_close(p);
}

/* A source that gives only the PIN before is broken: no PIN rather than that one again. */
TEST(a_stuck_random_source_gives_no_pin)
{
    static const uint32_t same[] = {123456};
    struct replay r = {same, 1, 0, 0, false};
    struct pairing *p = pairing_open(&opts, replayed_random, &r);
    char a[PAIRING_PIN_LEN + 1], b[PAIRING_PIN_LEN + 1];

    REQUIRE(p);
    CHECK_INT(pin_at(p, 0, a), 1);
    CHECK_STR_CONTAINS(a, "123456");
    CHECK_INT(pin_at(p, 600, b), -1);
    CHECK_INT((int)strlen(b), 0);
    pairing_close(p);
}

/* The right PIN with no random bytes for a token: PAIRING_FAILED and no session. */
TEST(no_random_bytes_for_a_token_no_session)
{
    struct replay r = {repeats, 1, 0, 0, true};
    struct pairing *p = pairing_open(&opts, replayed_random, &r);
    char pin[PAIRING_PIN_LEN + 1], tok[PAIRING_TOKEN_LEN + 1] = "";
    double retry;

    REQUIRE(p);
    CHECK_INT(pin_at(p, 0, pin), 1);
    CHECK_INT(pairing_try(p, 1, pin, tok, &retry), PAIRING_FAILED);
    CHECK_INT(pairing_count(p, 2), 0);
    CHECK(strcmp(pairing_result_name(PAIRING_FAILED), "failed") == 0);
    pairing_close(p);
}

/* Malformed PINs never count toward the lock-out, however many come. */
TEST(malformed_pins_are_not_tries)
{
    static const char *const bad[] = {"12345", "abcdef", "1234567", "12 456", "-12345", "",
                                      "12345\n", NULL};
    struct rnd r = {6, false};
    struct pairing *p = pairing_open(&opts, scripted_random, &r);
    char pin[PAIRING_PIN_LEN + 1], tok[PAIRING_TOKEN_LEN + 1];
    double retry;

    REQUIRE(p);
    pin_at(p, 0, pin);
    for (int round = 0; round < 10; round++)
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            CHECK_INT(pairing_try(p, 1, bad[i], tok, &retry), PAIRING_MALFORMED);
    CHECK_INT(pairing_try(p, 2, pin, tok, &retry), PAIRING_OK);
    pairing_close(p);
}

/* ---- policy -------------------------------------------------------------------------- */

TEST(host_names_the_rig_or_is_refused)
{
    static const struct { const char *host, *names; bool ok; } t[] = {
        {"127.0.0.1", "", true}, {"127.0.0.1:8080", "", true}, {"[::1]:8080", "", true},
        {"[::1]", "", true}, {"localhost:8080", "", true}, {"LOCALHOST", "", true},
        {"192.168.1.20:8080", "", true}, {"rig.local", "", false},
        {"rig.local:8080", "rig.local, other", true}, {"OTHER", "rig.local, other", true},
        {"rig.localx", "rig.local", false}, {"evil.example", "", false}, {"", "", false},
        {NULL, "", false}, {"127.0.0.1:", "", false}, {"127.0.0.1:99999x", "", false},
        {"127.0.0.1:123456", "", false}, {"[::1", "", false}, {"[::1]x", "", false},
        {"[evil]", "", false},
    };

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        bool got = policy_host_ok(t[i].host, t[i].names);
        if (got != t[i].ok)
            printf("  host %s (names \"%s\"): %d\n", t[i].host ? t[i].host : "NULL", t[i].names, got);
        CHECK(got == t[i].ok);
    }
}

TEST(origin_must_be_the_page_itself)
{
    CHECK(policy_origin_ok(NULL, "127.0.0.1:8080", false));
    CHECK(policy_origin_ok("http://127.0.0.1:8080", "127.0.0.1:8080", false));
    CHECK(!policy_origin_ok("https://127.0.0.1:8080", "127.0.0.1:8080", false));
    CHECK(policy_origin_ok("https://rig.local", "rig.local", true));
    CHECK(!policy_origin_ok("http://127.0.0.1:8080.evil", "127.0.0.1:8080", false));
    CHECK(!policy_origin_ok("http://evil.example", "127.0.0.1:8080", false));
    CHECK(!policy_origin_ok("null", "127.0.0.1:8080", false));
    CHECK(!policy_origin_ok("http://127.0.0.1:8080", NULL, false));
}

static bool loopback4(const char *a)
{
    struct sockaddr_in s = {.sin_family = AF_INET};

    inet_pton(AF_INET, a, &s.sin_addr);
    return policy_is_loopback((struct sockaddr *)&s);
}

static bool loopback6(const char *a)
{
    struct sockaddr_in6 s = {.sin6_family = AF_INET6};

    inet_pton(AF_INET6, a, &s.sin6_addr);
    return policy_is_loopback((struct sockaddr *)&s);
}

TEST(loopback_is_this_machine_only)
{
    CHECK(loopback4("127.0.0.1"));
    CHECK(loopback4("127.5.6.7"));
    CHECK(!loopback4("10.0.0.1"));
    CHECK(!loopback4("128.0.0.1"));
    CHECK(loopback6("::1"));
    CHECK(loopback6("::ffff:127.0.0.1"));
    CHECK(!loopback6("::ffff:10.0.0.1"));
    CHECK(!loopback6("2001:db8::1"));
    CHECK(!policy_is_loopback(NULL));
}

TEST(bodies_are_strict)
{
    static const struct { const char *body; int score; } t[] = {
        {"{\"score\":0}", 0}, {"{\"score\":10}", 10}, {"{\"score\":11}", -1},
        {"{\"score\":-1}", -1}, {"{\"score\":3.5}", -1}, {"{\"score\":\"3\"}", -1},
        {"{\"score\":3,\"x\":1}", -1}, {"{\"score\":3,\"score\":4}", -1}, {"{score:3}", -1},
        {"", -1}, {"[3]", -1}, {"{}", -1},
    };
    char msg[160], pin[16];
    int score;

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int rc = policy_parse_score(t[i].body, strlen(t[i].body), &score, msg, sizeof msg);
        CHECK_INT(rc == 0 ? score : -1, t[i].score);
        if (rc != 0)
            CHECK(msg[0] != '\0');
    }
    CHECK_INT(policy_parse_pin("{\"pin\":\"123456\"}", 16, pin, sizeof pin, msg, sizeof msg), 0);
    CHECK_STR_CONTAINS(pin, "123456");
    CHECK_INT(policy_parse_pin("{\"pin\":123456}", 14, pin, sizeof pin, msg, sizeof msg), -1);
    CHECK_INT(policy_parse_pin("{\"pin\":\"12\\u00003456\"}", 22, pin, sizeof pin, msg, sizeof msg), -1);
    CHECK_INT(policy_parse_pin("{\"pin\":\"01234567890123456789\"}", 30, pin, sizeof pin, msg,
                               sizeof msg), -1);
}

TEST(days_are_whole_and_bounded)
{
    int d;

    CHECK_INT(policy_parse_days(NULL, 28, 3650, &d), 0);
    CHECK_INT(d, 28);
    CHECK_INT(policy_parse_days("7", 28, 3650, &d), 0);
    CHECK_INT(d, 7);
    CHECK_INT(policy_parse_days("3650", 28, 3650, &d), 0);
    CHECK_INT(policy_parse_days("3651", 28, 3650, &d), -1);
    CHECK_INT(policy_parse_days("0", 28, 3650, &d), -1);
    CHECK_INT(policy_parse_days("-1", 28, 3650, &d), -1);
    CHECK_INT(policy_parse_days("+5", 28, 3650, &d), -1);
    CHECK_INT(policy_parse_days("5x", 28, 3650, &d), -1);
    CHECK_INT(policy_parse_days("", 28, 3650, &d), -1);
    CHECK_INT(policy_parse_days("99999999999999999999", 28, 3650, &d), -1);
}

/* ---- hub ----------------------------------------------------------------------------- */

TEST(a_reader_gets_the_newest_then_every_event)
{
    struct hub *h = hub_open();
    struct hub_reader r;
    char buf[256], last[64];

    REQUIRE(h);
    CHECK(hub_last(h, last, sizeof last) == -1);
    CHECK_INT(hub_publish(h, "{\"n\":1}", 7), 0);
    CHECK_INT(hub_publish(h, "{\"n\":2}", 7), 0);
    hub_reader_join(h, &r);
    CHECK(hub_read(h, &r, buf, sizeof buf, 0) == 15);
    CHECK(!memcmp(buf, "data: {\"n\":2}\n\n", 15));
    CHECK(hub_read(h, &r, buf, sizeof buf, 1) == 0);         /* nothing new */
    CHECK_INT(hub_publish(h, "{\"n\":3}", 7), 0);
    CHECK_INT(hub_publish(h, "{\"n\":4}", 7), 0);
    CHECK(hub_read(h, &r, buf, sizeof buf, 0) == 30);
    CHECK(!memcmp(buf, "data: {\"n\":3}\n\ndata: {\"n\":4}\n\n", 30));
    CHECK(hub_last(h, last, sizeof last) == 7);
    CHECK_STR_CONTAINS(last, "{\"n\":4}");
    errno = 0;
    CHECK_INT(hub_publish(h, "{\"a\":\n1}", 8), -1);          /* not one line */
    CHECK_INT(errno, EMSGSIZE);
    hub_reader_leave(h, &r);
    hub_stop(h);
    CHECK(hub_read(h, &r, buf, sizeof buf, 1000) == -1);
    hub_close(h);
}

TEST(a_slow_reader_skips_and_is_told)
{
    struct hub *h = hub_open();
    struct hub_reader r;
    static char buf[1 << 16];
    char ev[32];
    ssize_t k;
    struct hub_stats st;

    REQUIRE(h);
    CHECK_INT(hub_publish(h, "{\"n\":0}", 7), 0);
    hub_reader_join(h, &r);
    for (int i = 1; i <= HUB_SLOTS + 10; i++) {
        snprintf(ev, sizeof ev, "{\"n\":%d}", i);
        hub_publish(h, ev, strlen(ev));
    }
    k = hub_read(h, &r, buf, sizeof buf - 1, 0);
    REQUIRE(k > 0);
    buf[k] = '\0';
    CHECK(!strncmp(buf, "event: lost\ndata: {\"lost\":11}\n\n", 31));
    CHECK_STR_CONTAINS(buf, "data: {\"n\":11}\n\n");        /* the oldest kept */
    CHECK_STR_CONTAINS(buf, "data: {\"n\":74}\n\n");        /* the newest */
    CHECK(strstr(buf, "{\"n\":10}") == NULL);
    hub_stats(h, &st);
    CHECK(st.published == HUB_SLOTS + 11);
    CHECK_INT(st.readers, 1);
    hub_reader_leave(h, &r);
    hub_close(h);
}

TEST(a_long_event_goes_out_in_pieces)
{
    struct hub *h = hub_open();
    struct hub_reader r;
    char big[1000], out[1200], piece[100];
    size_t got = 0;
    ssize_t k;

    REQUIRE(h);
    memset(big, 'x', sizeof big);
    big[0] = '"';
    big[sizeof big - 1] = '"';
    hub_reader_join(h, &r);
    CHECK_INT(hub_publish(h, big, sizeof big), 0);
    while (got < sizeof out && (k = hub_read(h, &r, piece, sizeof piece, 0)) > 0) {
        CHECK(k <= (ssize_t)sizeof piece);
        memcpy(out + got, piece, (size_t)k);
        got += (size_t)k;
    }
    CHECK(got == 6 + sizeof big + 2);
    CHECK(!memcmp(out, "data: ", 6) && !memcmp(out + 6, big, sizeof big) &&
          !memcmp(out + 6 + sizeof big, "\n\n", 2));
    hub_reader_leave(h, &r);
    hub_close(h);
}

/* A reader cut off half-way through an event that then falls behind: the half event is
 * ended before the "lost" event, and the count includes it. */
TEST(a_reader_behind_mid_event_ends_it_first)
{
    struct hub *h = hub_open();
    struct hub_reader r;
    static char buf[1 << 16];
    char ev[32], big[200];
    ssize_t k;

    REQUIRE(h);
    memset(big, 'y', sizeof big);
    big[0] = big[sizeof big - 1] = '"';
    CHECK_INT(hub_publish(h, big, sizeof big), 0);
    hub_reader_join(h, &r);
    CHECK(hub_read(h, &r, buf, 50, 0) == 50);               /* a part of it */
    for (int i = 1; i <= HUB_SLOTS + 1; i++) {
        snprintf(ev, sizeof ev, "{\"n\":%d}", i);
        CHECK_INT(hub_publish(h, ev, strlen(ev)), 0);
    }
    k = hub_read(h, &r, buf, sizeof buf - 1, 0);
    REQUIRE(k > 0);
    buf[k] = '\0';
    CHECK(!strncmp(buf, "\n\nevent: lost\ndata: {\"lost\":2}\n\ndata: {\"n\":2}\n\n", 46));
    CHECK_INT(r.lost, 2);
    hub_reader_leave(h, &r);
    hub_close(h);
}

/* The size limit is HUB_EVENT_MAX exactly; what is refused is counted; hub_last says -1
 * for a buffer too small rather than cutting. */
TEST(the_event_size_limit_is_exact)
{
    struct hub *h = hub_open();
    char *big = malloc(HUB_EVENT_MAX + 1), small[8];
    struct hub_stats st;

    REQUIRE(h);
    REQUIRE_OR_GOTO(big, out);
    memset(big, 'z', HUB_EVENT_MAX + 1);
    CHECK_INT(hub_publish(h, big, HUB_EVENT_MAX), 0);
    errno = 0;
    CHECK_INT(hub_publish(h, big, HUB_EVENT_MAX + 1), -1);
    CHECK_INT(errno, EMSGSIZE);
    CHECK_INT(hub_publish(h, "\n", 1), -1);
    hub_stats(h, &st);
    CHECK(st.published == 1);
    CHECK_INT(st.dropped, 2);
    CHECK(hub_last(h, small, sizeof small) == -1);
    CHECK_INT(hub_publish(h, "{}", 2), 0);
    CHECK(hub_last(h, small, 3) == 2);
    CHECK_STR_CONTAINS(small, "{}");
out:
    free(big);
    hub_close(h);
}

/* hub_stop wakes a reader waiting with nothing new: it returns -1, not after its wait. */
TEST(a_stop_ends_every_read)
{
    struct hub *h = hub_open();
    struct hub_reader r;
    char buf[64];

    REQUIRE(h);
    hub_reader_join(h, &r);
    CHECK(hub_read(h, &r, buf, sizeof buf, 0) == 0);         /* nothing yet */
    CHECK_INT(hub_publish(h, "{}", 2), 0);
    hub_stop(h);
    CHECK(hub_read(h, &r, buf, sizeof buf, 0) == -1);        /* even with an event unread */
    hub_reader_leave(h, &r);
    hub_close(h);
}

TESTS(T(a_pin_lives_its_lifetime_and_is_replaced_after), T(a_pin_pairs_once_and_gives_a_token),
      T(wrong_pins_lock_pairing_and_replace_the_pin), T(sessions_expire_refresh_and_make_room),
      T(no_random_numbers_no_pin), T(a_new_pin_is_never_the_one_before),
      T(a_pin_after_a_lockout_is_new), T(a_stuck_random_source_gives_no_pin),
      T(no_random_bytes_for_a_token_no_session), T(malformed_pins_are_not_tries),
      T(host_names_the_rig_or_is_refused),
      T(origin_must_be_the_page_itself), T(loopback_is_this_machine_only),
      T(bodies_are_strict), T(days_are_whole_and_bounded),
      T(a_reader_gets_the_newest_then_every_event), T(a_slow_reader_skips_and_is_told),
      T(a_long_event_goes_out_in_pieces), T(a_reader_behind_mid_event_ends_it_first),
      T(the_event_size_limit_is_exact), T(a_stop_ends_every_read));
TEST_MAIN("test_web_units")
