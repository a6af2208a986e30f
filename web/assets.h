/* assets.h - the page's files, compiled into eccweb (web/embed.sh makes the table from
 * web/page/ at build time), so eccweb serves exactly the page it was built with and
 * fetches nothing from anywhere. */
#ifndef ECC_WEB_ASSETS_H
#define ECC_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
    const char *path;               /* "/", "/app.js", ... */
    const char *type;               /* Content-Type */
    const unsigned char *data;
    size_t len;
};

extern const struct web_asset web_assets[];
extern const int web_n_assets;

#endif
