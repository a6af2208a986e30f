/* pairing.c - eccweb's PIN pairing and session tokens (see pairing.h). */
#include "web/pairing.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct session {
    char token[PAIRING_TOKEN_LEN + 1];
    double last_used;               /* live while now - last_used < session_s */
    bool live;
};

struct pairing {
    pthread_mutex_t mu;
    struct pairing_opts o;
    pairing_random_fn rnd;
    void *rnd_arg;
    char pin[PAIRING_PIN_LEN + 1];  /* "" : none current */
    double pin_expires;
    char pin_given[PAIRING_PIN_LEN + 1];    /* what pairing_pin said last */
    char pin_last[PAIRING_PIN_LEN + 1];     /* the last PIN made (kept once pin is used) */
    int wrong;                      /* wrong tries against the current PIN's lock count */
    double locked_until;
    struct session sessions[PAIRING_SESSIONS_MAX];
};

struct pairing *pairing_open(const struct pairing_opts *o, pairing_random_fn rnd, void *arg)
{
    struct pairing *p = calloc(1, sizeof *p);

    if (!p)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    p->o = *o;
    if (p->o.max_sessions < 1)
        p->o.max_sessions = 1;
    if (p->o.max_sessions > PAIRING_SESSIONS_MAX)
        p->o.max_sessions = PAIRING_SESSIONS_MAX;
    if (p->o.tries < 1)
        p->o.tries = 1;
    p->rnd = rnd;
    p->rnd_arg = arg;
    p->locked_until = -1e300;
    return p;
}

void pairing_close(struct pairing *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* A uniform number below bound from the random source (rejection sampling): 0, or -1. */
static int random_below(struct pairing *p, uint32_t bound, uint32_t *out)
{
    uint32_t limit = UINT32_MAX - UINT32_MAX % bound, v;

    for (int i = 0; i < 64; i++) {
        if (p->rnd(p->rnd_arg, &v, sizeof v) != 0)
            return -1;
        if (v < limit) {
            *out = v % bound;
            return 0;
        }
    }
    return -1;
}

/* Under mu: a new PIN, never the one made before (expired, used or guessed at), or ""
 * when there are no random bytes (or 8 draws gave only that one: a broken source). */
static void new_pin(struct pairing *p, double now)
{
    uint32_t v;

    for (int i = 0; i < 8; i++) {
        p->pin[0] = '\0';
        if (random_below(p, 1000000u, &v) != 0)
            return;
        snprintf(p->pin, sizeof p->pin, "%06u", (unsigned)v);
        if (strcmp(p->pin, p->pin_last) != 0)
            break;
    }
    if (strcmp(p->pin, p->pin_last) == 0) {
        p->pin[0] = '\0';
        return;
    }
    memcpy(p->pin_last, p->pin, sizeof p->pin_last);
    p->pin_expires = now + p->o.pin_lifetime_s;
}

static bool locked(const struct pairing *p, double now)
{
    return now < p->locked_until;
}

int pairing_pin(struct pairing *p, double now, char pin[PAIRING_PIN_LEN + 1],
                double *expires_at)
{
    int rc;

    pthread_mutex_lock(&p->mu);
    if (locked(p, now)) {
        *expires_at = p->locked_until;
        pin[0] = '\0';
        p->pin_given[0] = '\0';
        pthread_mutex_unlock(&p->mu);
        return -1;
    }
    if (!p->pin[0] || now >= p->pin_expires)
        new_pin(p, now);
    memcpy(pin, p->pin, PAIRING_PIN_LEN + 1);
    *expires_at = p->pin_expires;
    rc = !p->pin[0] ? -1 : strcmp(p->pin, p->pin_given) != 0;
    memcpy(p->pin_given, p->pin, sizeof p->pin_given);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* Equal strings of len bytes, in time that does not depend on where they differ. */
static bool same_secret(const char *a, const char *b, size_t len)
{
    unsigned char d = 0;

    for (size_t i = 0; i < len; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

static bool well_formed_pin(const char *pin)
{
    for (int i = 0; i < PAIRING_PIN_LEN; i++)
        if (pin[i] < '0' || pin[i] > '9')
            return false;
    return pin[PAIRING_PIN_LEN] == '\0';
}

/* Under mu: the slot for a new session (a free or expired one, else the least recently
 * used). */
static struct session *free_slot(struct pairing *p, double now)
{
    struct session *oldest = &p->sessions[0];

    for (int i = 0; i < p->o.max_sessions; i++) {
        struct session *s = &p->sessions[i];
        if (!s->live || now - s->last_used >= p->o.session_s)
            return s;
        if (s->last_used < oldest->last_used)
            oldest = s;
    }
    return oldest;
}

/* Under mu: a new session's token into token: 0, or -1 (no random bytes). */
static int new_session(struct pairing *p, double now, char token[PAIRING_TOKEN_LEN + 1])
{
    unsigned char raw[PAIRING_TOKEN_LEN / 2];
    struct session *s;

    if (p->rnd(p->rnd_arg, raw, sizeof raw) != 0)
        return -1;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(token + 2 * i, 3, "%02x", raw[i]);
    s = free_slot(p, now);
    memcpy(s->token, token, PAIRING_TOKEN_LEN + 1);
    s->last_used = now;
    s->live = true;
    return 0;
}

enum pairing_result pairing_try(struct pairing *p, double now, const char *pin,
                                char token[PAIRING_TOKEN_LEN + 1], double *retry_s)
{
    enum pairing_result r;

    if (!pin || strlen(pin) != PAIRING_PIN_LEN || !well_formed_pin(pin))
        return PAIRING_MALFORMED;
    pthread_mutex_lock(&p->mu);
    if (locked(p, now)) {
        *retry_s = p->locked_until - now;
        r = PAIRING_LOCKED;
    } else if (p->pin[0] && now < p->pin_expires && same_secret(pin, p->pin, PAIRING_PIN_LEN)) {
        r = new_session(p, now, token) == 0 ? PAIRING_OK : PAIRING_FAILED;
        p->pin[0] = '\0';           /* used: the next one is new */
        p->wrong = 0;
    } else if (++p->wrong >= p->o.tries) {
        p->wrong = 0;
        p->locked_until = now + p->o.lockout_s;
        p->pin[0] = '\0';           /* whoever guessed at it gets a new one to guess */
        *retry_s = p->o.lockout_s;
        r = PAIRING_LOCKED;
    } else {
        r = PAIRING_WRONG;
    }
    pthread_mutex_unlock(&p->mu);
    return r;
}

/* Under mu: the live session with this token, or NULL. */
static struct session *find(struct pairing *p, double now, const char *token)
{
    struct session *found = NULL;

    if (!token || strlen(token) != PAIRING_TOKEN_LEN)
        return NULL;
    for (int i = 0; i < p->o.max_sessions; i++) {     /* no early exit: constant time */
        struct session *s = &p->sessions[i];
        if (s->live && now - s->last_used < p->o.session_s &&
            same_secret(s->token, token, PAIRING_TOKEN_LEN))
            found = s;
    }
    return found;
}

bool pairing_check(struct pairing *p, double now, const char *token)
{
    struct session *s;

    pthread_mutex_lock(&p->mu);
    if ((s = find(p, now, token)))
        s->last_used = now;
    pthread_mutex_unlock(&p->mu);
    return s != NULL;
}

void pairing_forget(struct pairing *p, const char *token)
{
    struct session *s;

    pthread_mutex_lock(&p->mu);
    if ((s = find(p, -1e300, token)))   /* whatever its age */
        memset(s, 0, sizeof *s);
    pthread_mutex_unlock(&p->mu);
}

int pairing_count(struct pairing *p, double now)
{
    int n = 0;

    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->o.max_sessions; i++)
        n += p->sessions[i].live && now - p->sessions[i].last_used < p->o.session_s;
    pthread_mutex_unlock(&p->mu);
    return n;
}

const char *pairing_result_name(enum pairing_result r)
{
    switch (r) {
    case PAIRING_OK: return "ok";
    case PAIRING_WRONG: return "wrong_pin";
    case PAIRING_LOCKED: return "locked";
    case PAIRING_MALFORMED: return "bad_pin";
    case PAIRING_FAILED: return "failed";
    }
    return "?";
}
