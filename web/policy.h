/* policy.h - what eccweb lets a request do: pure checks on what the request says, tested
 * as a table (tests/test_web_units.c). docs/web.md says the same in words.
 */
#ifndef ECC_WEB_POLICY_H
#define ECC_WEB_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* The Host header names this server: an IPv4 address, an [IPv6] address, localhost, or
 * one of hostnames (comma-separated, blanks ignored, case-insensitive), each with an
 * optional :port. Anything else (a name an attacker's DNS points at the rig: DNS
 * rebinding) is refused. NULL: refused. */
bool policy_host_ok(const char *host, const char *hostnames);

/* A request that changes something came from the page itself: its Origin header, when
 * there is one, is http(s)://HOST exactly (scheme as served). */
bool policy_origin_ok(const char *origin, const char *host, bool tls);

/* The peer is this machine (127.0.0.0/8, ::1, ::ffff:127.x.y.z). */
bool policy_is_loopback(const struct sockaddr *sa);

/* The address as text, for the log ("?" when unknown). */
void policy_addr_text(const struct sockaddr *sa, char *buf, size_t n);

/* A JSON body {"score":N} with N an integer 0..10 (nothing else in it): 0 and *score,
 * or -1 with the reason in msg. */
int policy_parse_score(const char *body, size_t len, int *score, char *msg, size_t n);
/* A JSON body {"pin":"123456"}: 0 and the digits (at most pin_n - 1 bytes), or -1. */
int policy_parse_pin(const char *body, size_t len, char *pin, size_t pin_n, char *msg,
                     size_t n);

/* The query's days=N, 1..max (absent: def): 0 and *days, or -1. */
int policy_parse_days(const char *text, int def, int max, int *days);

#endif
