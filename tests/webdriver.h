/* webdriver.h - a real browser for the page's tests: Debian's chromium, headless, driven
 * through chromedriver's W3C WebDriver protocol (JSON over HTTP on loopback).
 *
 * wd_open starts chromedriver on a free port and a headless chromium session of the given
 * window size; wd_close ends both. Calls return 0 / a value, or -1 / NULL with the reason
 * in wd->err. A test that finds no chromium or chromedriver skips (wd_available).
 */
#ifndef ECC_TESTS_WEBDRIVER_H
#define ECC_TESTS_WEBDRIVER_H

#include <jansson.h>
#include <stdbool.h>

struct wd {
    int driver_pid;
    int port;
    char session[128];
    char err[512];
    char log[128];                  /* chromedriver's output */
};

/* "" when chromium and chromedriver are installed, else what is missing. */
const char *wd_available(void);
int wd_open(struct wd *wd, int width, int height);
void wd_close(struct wd *wd);
int wd_get(struct wd *wd, const char *url);
/* The page's viewport, exactly this size (a phone's or a tablet's). */
int wd_window_size(struct wd *wd, int width, int height);
/* Run script (a function body; `return` gives the value) in the page: the value (the
 * caller decrefs), or NULL. */
json_t *wd_exec(struct wd *wd, const char *script);
/* Click the element a CSS selector finds. */
int wd_click(struct wd *wd, const char *css);
/* Press the element a CSS selector finds with the mouse for ms milliseconds (a
 * hold-to-confirm), then release. */
int wd_hold(struct wd *wd, const char *css, int ms);
/* The viewport as a PNG file. */
int wd_screenshot(struct wd *wd, const char *path);

#endif
