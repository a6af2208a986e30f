/* policy.c - eccweb's request checks (see policy.h). */
#include "web/policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* host without its :port (an [IPv6] keeps its brackets off): 0, or -1 when malformed. */
static int split_host(const char *host, char *name, size_t n)
{
    const char *end, *colon;
    size_t len;

    if (host[0] == '[') {
        if (!(end = strchr(host, ']')))
            return -1;
        len = (size_t)(end - host - 1);
        if (len >= n)
            return -1;
        memcpy(name, host + 1, len);
        name[len] = '\0';
        colon = end + 1;
        if (*colon && *colon != ':')
            return -1;
    } else {
        colon = strchr(host, ':');
        len = colon ? (size_t)(colon - host) : strlen(host);
        if (len >= n)
            return -1;
        memcpy(name, host, len);
        name[len] = '\0';
    }
    if (colon && *colon) {
        const char *d = colon + 1;
        if (!*d || strlen(d) > 5)
            return -1;
        for (; *d; d++)
            if (!isdigit((unsigned char)*d))
                return -1;
    }
    return 0;
}

/* name is in the comma-separated list (blanks around items ignored, any case). */
static bool in_list(const char *name, const char *list)
{
    size_t len = strlen(name);

    while (list && *list) {
        const char *end = strchr(list, ',');
        size_t k = end ? (size_t)(end - list) : strlen(list);
        while (k && isspace((unsigned char)*list)) {
            list++;
            k--;
        }
        while (k && isspace((unsigned char)list[k - 1]))
            k--;
        if (k == len && k && strncasecmp(list, name, k) == 0)
            return true;
        list = end ? end + 1 : NULL;
    }
    return false;
}

bool policy_host_ok(const char *host, const char *hostnames)
{
    char name[256];
    unsigned char addr[16];

    if (!host || !*host || split_host(host, name, sizeof name) != 0 || !*name)
        return false;
    if (host[0] == '[')
        return inet_pton(AF_INET6, name, addr) == 1;
    if (inet_pton(AF_INET, name, addr) == 1 || strcasecmp(name, "localhost") == 0)
        return true;
    return in_list(name, hostnames);
}

bool policy_origin_ok(const char *origin, const char *host, bool tls)
{
    const char *scheme = tls ? "https://" : "http://";
    size_t k = strlen(scheme);

    if (!origin)
        return true;                /* not sent by a browser: the custom header guards */
    if (!host || strncasecmp(origin, scheme, k) != 0)
        return false;
    return strcasecmp(origin + k, host) == 0;
}

bool policy_is_loopback(const struct sockaddr *sa)
{
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return true;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return false;
}

void policy_addr_text(const struct sockaddr *sa, char *buf, size_t n)
{
    const void *a = NULL;

    if (sa && sa->sa_family == AF_INET)
        a = &((const struct sockaddr_in *)sa)->sin_addr;
    else if (sa && sa->sa_family == AF_INET6)
        a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (!a || !inet_ntop(sa->sa_family, a, buf, (socklen_t)n))
        snprintf(buf, n, "?");
}

/* The body as a JSON object with exactly the one member key: it, or NULL with msg. */
static json_t *one_member(const char *body, size_t len, const char *key, json_t **root,
                          char *msg, size_t n)
{
    json_error_t err;
    json_t *v;

    *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(*root)) {
        snprintf(msg, n, "the body must be a JSON object {\"%s\":...}", key);
        return NULL;
    }
    if (!(v = json_object_get(*root, key)) || json_object_size(*root) != 1) {
        snprintf(msg, n, "the body must hold \"%s\" and nothing else", key);
        return NULL;
    }
    return v;
}

int policy_parse_score(const char *body, size_t len, int *score, char *msg, size_t n)
{
    json_t *root, *v = one_member(body, len, "score", &root, msg, n);
    int rc = -1;

    if (v && json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 10) {
        *score = (int)json_integer_value(v);
        rc = 0;
    } else if (v) {
        snprintf(msg, n, "score must be a whole number from 0 to 10");
    }
    json_decref(root);
    return rc;
}

int policy_parse_pin(const char *body, size_t len, char *pin, size_t pin_n, char *msg,
                     size_t n)
{
    json_t *root, *v = one_member(body, len, "pin", &root, msg, n);
    int rc = -1;

    if (v && json_is_string(v) && json_string_length(v) < pin_n &&
        strlen(json_string_value(v)) == json_string_length(v)) {
        snprintf(pin, pin_n, "%s", json_string_value(v));
        rc = 0;
    } else if (v) {
        snprintf(msg, n, "pin must be a string of digits");
    }
    json_decref(root);
    return rc;
}

int policy_parse_days(const char *text, int def, int max, int *days)
{
    char *end;
    long v;

    if (!text) {
        *days = def;
        return 0;
    }
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < 1 || v > max || !isdigit((unsigned char)*text))
        return -1;
    *days = (int)v;
    return 0;
}
