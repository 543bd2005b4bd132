/* The web view's page, style sheet and script (principal/web/), compiled into the program
 * by principal/web/embed.py. */
#ifndef INSEL_PRINCIPAL_WEB_ASSETS_H
#define INSEL_PRINCIPAL_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
	const char *path;          /* as requested: "/", "/style.css", "/app.js" */
	const char *content_type;
	const unsigned char *data;
	size_t len;
};

extern const struct web_asset web_assets[];
extern const unsigned web_asset_count;

/* The asset served at path, or NULL. */
const struct web_asset *web_asset_find(const char *path);

#endif
