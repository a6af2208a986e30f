/* webdriver.c - headless chromium through chromedriver, for the page's tests (see
 * webdriver.h). HTTP/1.1 on loopback, one connection per call; chromedriver's replies
 * carry Content-Length. */
#define _GNU_SOURCE 1               /* memmem */
#include "tests/webdriver.h"
#include "tests/test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHROMIUM "/usr/bin/chromium"
#define CHROMEDRIVER "/usr/bin/chromedriver"
#define REPLY_MAX (32u << 20)
#define WAIT_MS 60000               /* one WebDriver call (a page load included) */
#define ELEMENT_KEY "element-6066-11e4-a52e-4f735466cecf"

const char *wd_available(void)
{
    if (access(CHROMIUM, X_OK) != 0)
        return "no " CHROMIUM " (Debian package chromium)";
    if (access(CHROMEDRIVER, X_OK) != 0)
        return "no " CHROMEDRIVER " (Debian package chromium-driver)";
    return "";
}

__attribute__((format(printf, 2, 3)))
static int fail(struct wd *wd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(wd->err, sizeof wd->err, fmt, ap);
    va_end(ap);
    return -1;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* The whole reply is in buf[0..n): its head and Content-Length bytes of body, or EOF. */
static bool complete(const char *buf, size_t n)
{
    const char *sep = memmem(buf, n, "\r\n\r\n", 4), *cl;
    size_t head;

    if (!sep)
        return false;
    head = (size_t)(sep - buf) + 4;
    cl = memmem(buf, head, "Content-Length:", 15);
    return cl && n >= head + strtoul(cl + 15, NULL, 10);
}

/* Read one reply (bounded by WAIT_MS of silence): the bytes (malloc'd, NUL-ended), or
 * NULL. */
static char *read_all(int fd, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);

    while (buf) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t k;
        if (poll(&p, 1, WAIT_MS) != 1)
            break;
        if (n == cap) {
            char *q = cap < REPLY_MAX ? realloc(buf, cap * 2 + 1) : NULL;
            if (!q)
                break;
            buf = q;
            cap *= 2;
        }
        k = recv(fd, buf + n, cap - n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            break;
        if (k == 0) {
            buf[n] = '\0';
            *len = n;
            return buf;
        }
        n += (size_t)k;
        if (complete(buf, n)) {
            buf[n] = '\0';
            *len = n;
            return buf;
        }
    }
    free(buf);
    return NULL;
}

/* One WebDriver call: the reply's "value" (the caller decrefs), or NULL with err. body
 * may be NULL (GET/DELETE). */
static json_t *call(struct wd *wd, const char *method, const char *path, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL, head[512], *reply, *sep;
    size_t len = 0;
    int fd = test_tcp_dial(wd->port);
    json_t *j = NULL, *value = NULL;

    snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", method, path,
             wd->port, text ? strlen(text) : 0);
    if (fd < 0 || send_all(fd, head, strlen(head)) != 0 ||
        (text && send_all(fd, text, strlen(text)) != 0) || !(reply = read_all(fd, &len))) {
        fail(wd, "%s %s: chromedriver does not answer", method, path);
    } else {
        if ((sep = strstr(reply, "\r\n\r\n")))
            j = json_loads(sep + 4, 0, NULL);
        value = json_incref(json_object_get(j, "value"));
        if (!value || strncmp(reply, "HTTP/1.1 200", 12) != 0) {
            json_t *msg = json_object_get(value, "message");
            fail(wd, "%s %s: %.300s", method, path,
                 json_is_string(msg) ? json_string_value(msg) : reply);
            json_decref(value);
            value = NULL;
        }
        json_decref(j);
        free(reply);
    }
    if (fd >= 0)
        close(fd);
    free(text);
    json_decref(body);
    return value;
}

static int start_driver(struct wd *wd)
{
    char port[32];

    if ((wd->port = test_tcp_free_port()) < 0)
        return fail(wd, "no free port");
    snprintf(port, sizeof port, "--port=%d", wd->port);
    snprintf(wd->log, sizeof wd->log, "/tmp/chromedriver-%d.log", (int)getpid());
    fflush(stdout);
    wd->driver_pid = fork();
    if (wd->driver_pid == 0) {
        int fd = open(wd->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        setpgid(0, 0);              /* its chromium too: wd_close ends the group */
        execl(CHROMEDRIVER, CHROMEDRIVER, port, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; wd->driver_pid > 0 && i < 500; i++) {       /* up to 10 s */
        int fd = test_tcp_dial(wd->port);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        nanosleep(&(struct timespec){0, 20000000L}, NULL);
    }
    return fail(wd, "chromedriver did not start (its log: %s)", wd->log);
}

int wd_open(struct wd *wd, int width, int height)
{
    char size[64], profile[64];
    json_t *caps, *v;

    memset(wd, 0, sizeof *wd);
    if (start_driver(wd) != 0)
        return -1;
    snprintf(size, sizeof size, "--window-size=%d,%d", width, height);
    snprintf(profile, sizeof profile, "--user-data-dir=/tmp/ecc-chromium-%d", (int)getpid());
    /* --remote-debugging-pipe: chromedriver talks to chromium over a pipe, not a TCP port
     * on "localhost" (no port for other local users, and no need for /etc/hosts, which a
     * bare build root may lack). */
    caps = json_pack("{s:{s:{s:s, s:{s:s, s:[s,s,s,s,s,s,s,s,s]}}}}", "capabilities",
                     "alwaysMatch", "browserName", "chrome", "goog:chromeOptions", "binary",
                     CHROMIUM, "args", "--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-pipe",
                     size, profile, "--force-device-scale-factor=1");
    v = call(wd, "POST", "/session", caps);
    if (!json_is_string(json_object_get(v, "sessionId"))) {
        json_decref(v);
        return -1;
    }
    snprintf(wd->session, sizeof wd->session, "%s",
             json_string_value(json_object_get(v, "sessionId")));
    json_decref(v);
    return wd_window_size(wd, width, height);
}

void wd_close(struct wd *wd)
{
    char path[192], cmd[128];

    if (wd->session[0]) {
        snprintf(path, sizeof path, "/session/%s", wd->session);
        json_decref(call(wd, "DELETE", path, NULL));
        wd->session[0] = '\0';
    }
    if (wd->driver_pid > 0) {
        kill(-wd->driver_pid, SIGTERM);
        waitpid(wd->driver_pid, NULL, 0);
        kill(-wd->driver_pid, SIGKILL);     /* a chromium left in its group */
        wd->driver_pid = 0;
    }
    snprintf(cmd, sizeof cmd, "rm -rf /tmp/ecc-chromium-%d", (int)getpid());
    if (system(cmd) != 0)
        printf("  could not remove the browser's profile\n");
    unlink(wd->log);
}

/* POST /session/ID/WHAT with body: the value, or NULL. */
static json_t *session_post(struct wd *wd, const char *what, json_t *body)
{
    char path[512];

    snprintf(path, sizeof path, "/session/%s/%s", wd->session, what);
    return call(wd, "POST", path, body);
}

int wd_get(struct wd *wd, const char *url)
{
    json_t *v = session_post(wd, "url", json_pack("{s:s}", "url", url));

    json_decref(v);
    return v ? 0 : -1;
}

int wd_window_size(struct wd *wd, int width, int height)
{
    /* Chrome's DevTools device metrics: the viewport exactly (a headless window is never
     * narrower than 500 px), as a phone or tablet at device scale 1. */
    json_t *v = session_post(wd, "goog/cdp/execute",
                             json_pack("{s:s, s:{s:i, s:i, s:i, s:b}}", "cmd",
                                       "Emulation.setDeviceMetricsOverride", "params", "width",
                                       width, "height", height, "deviceScaleFactor", 1,
                                       "mobile", width < 800));

    json_decref(v);
    return v ? 0 : -1;
}

json_t *wd_exec(struct wd *wd, const char *script)
{
    return session_post(wd, "execute/sync", json_pack("{s:s, s:[]}", "script", script, "args"));
}

static const char *find(struct wd *wd, const char *css, json_t **el);

int wd_click(struct wd *wd, const char *css)
{
    json_t *el;
    const char *id = find(wd, css, &el);
    char what[256];
    json_t *v = NULL;

    if (id) {
        snprintf(what, sizeof what, "element/%s/click", id);
        v = session_post(wd, what, json_object());
    }
    json_decref(el);
    json_decref(v);
    return v ? 0 : -1;
}

/* The element id a CSS selector finds (the caller decrefs *el), or NULL. */
static const char *find(struct wd *wd, const char *css, json_t **el)
{
    *el = session_post(wd, "element", json_pack("{s:s, s:s}", "using", "css selector",
                                                "value", css));
    return json_string_value(json_object_get(*el, ELEMENT_KEY));
}

int wd_hold(struct wd *wd, const char *css, int ms)
{
    json_t *el, *v = NULL;
    const char *id = find(wd, css, &el);

    if (id)
        v = session_post(wd, "actions", json_pack(
            "{s:[{s:s, s:s, s:{s:s}, s:[{s:s, s:{s:s}, s:i, s:i}, {s:s, s:i}, {s:s, s:i},"
            " {s:s, s:i}]}]}", "actions", "type", "pointer", "id", "finger", "parameters",
            "pointerType", "mouse", "actions", "type", "pointerMove", "origin", ELEMENT_KEY, id,
            "x", 0, "y", 0, "type", "pointerDown", "button", 0, "type", "pause", "duration", ms,
            "type", "pointerUp", "button", 0));
    json_decref(el);
    json_decref(v);
    return v ? 0 : -1;
}

static int b64(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decode base64 text to f: 0, or -1. */
static int write_base64(FILE *f, const char *s)
{
    unsigned acc = 0;
    int bits = 0;

    for (; *s && *s != '='; s++) {
        int v = b64((unsigned char)*s);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (putc((int)((acc >> bits) & 0xff), f) == EOF)
                return -1;
        }
    }
    return 0;
}

int wd_screenshot(struct wd *wd, const char *path)
{
    char what[256];
    json_t *v;
    FILE *f;
    int rc;

    snprintf(what, sizeof what, "/session/%s/screenshot", wd->session);
    v = call(wd, "GET", what, NULL);
    if (!json_is_string(v)) {
        json_decref(v);
        return -1;
    }
    if (!(f = fopen(path, "wb"))) {
        json_decref(v);
        return fail(wd, "%s: %s", path, strerror(errno));
    }
    rc = write_base64(f, json_string_value(v));
    rc |= fclose(f);
    json_decref(v);
    return rc == 0 ? 0 : fail(wd, "%s: cannot write the PNG", path);
}
