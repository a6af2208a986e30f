/* pairing.h - eccweb's pairing: a short PIN shown on the rig (eccctl pair, the rig's own
 * screen) exchanged by a phone for a session token kept in an HttpOnly cookie.
 *
 * Pure bookkeeping on times passed in (s, any monotonic clock) and random bytes from a
 * callback: nothing here reads a clock or does I/O, so every rule is unit-tested
 * (tests/test_web_units.c). Thread-safe: an internal mutex.
 *
 * Rules (docs/web.md): a PIN of PAIRING_PIN_LEN digits lives pin_lifetime_s and is
 * replaced once it is used; `tries` wrong PINs (from anyone) lock pairing for lockout_s
 * and replace the PIN; a new PIN is never the one it replaces; a session lasts session_s
 * from its last use; at most max_sessions are kept (pairing one more forgets the least
 * recently used). Tokens are PAIRING_TOKEN_LEN hex digits (128 random bits), compared in
 * constant time.
 * Ownership: pairing_open's object is freed by pairing_close (NULL: no-op).
 */
#ifndef ECC_WEB_PAIRING_H
#define ECC_WEB_PAIRING_H

#include <stdbool.h>
#include <stddef.h>

#define PAIRING_PIN_LEN 6
#define PAIRING_TOKEN_LEN 32
#define PAIRING_SESSIONS_MAX 64

struct pairing_opts {
    double pin_lifetime_s;
    int tries;
    double lockout_s;
    double session_s;
    int max_sessions;               /* 1 .. PAIRING_SESSIONS_MAX */
};

/* Fill buf with n random bytes: 0, or -1 (then pairing refuses to make a PIN or token). */
typedef int (*pairing_random_fn)(void *arg, void *buf, size_t n);

enum pairing_result {
    PAIRING_OK,                     /* paired: the token is the new session's */
    PAIRING_WRONG,                  /* not the PIN (or none is current) */
    PAIRING_LOCKED,                 /* too many wrong PINs: wait */
    PAIRING_MALFORMED,              /* not PAIRING_PIN_LEN digits (does not count as a try) */
    PAIRING_FAILED,                 /* no random bytes */
};

struct pairing;

struct pairing *pairing_open(const struct pairing_opts *o, pairing_random_fn rnd, void *arg);
void pairing_close(struct pairing *p);

/* The PIN now (a new one when none is current): its digits in pin, when it expires in
 * *expires_at. Returns 1 when it is not the PIN the previous call gave (write it out), 0
 * when it is, -1 when there is none (locked: *expires_at is when pairing opens again; or
 * no random bytes, or a source that only repeats the PIN before). */
int pairing_pin(struct pairing *p, double now, char pin[PAIRING_PIN_LEN + 1],
                double *expires_at);

/* Try a PIN. PAIRING_OK: token holds the new session's token. PAIRING_LOCKED: *retry_s is
 * the wait. */
enum pairing_result pairing_try(struct pairing *p, double now, const char *pin,
                                char token[PAIRING_TOKEN_LEN + 1], double *retry_s);

/* Is token a live session? It counts as a use (its lifetime starts again). */
bool pairing_check(struct pairing *p, double now, const char *token);
/* Forget a session (the page's "unpair"). */
void pairing_forget(struct pairing *p, const char *token);
/* Live sessions. */
int pairing_count(struct pairing *p, double now);

const char *pairing_result_name(enum pairing_result r);

#endif
