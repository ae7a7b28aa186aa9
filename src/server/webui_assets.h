/*
 * webui_assets.h - the web UI's files, embedded at build time by
 * webui/embed.c into a generated C source (webui_assets_gen.c in the build
 * tree). Nothing is read from disk or the network at run time.
 */
#ifndef SB_WEBUI_ASSETS_H
#define SB_WEBUI_ASSETS_H

#include <stddef.h>

typedef struct sb_webui_asset {
    const char *path;         /* URL path: "/" for index.html, "/ui/..." for the rest */
    const char *content_type;
    const unsigned char *data;
    size_t len;
    const char *etag;         /* strong ETag, quoted: a hash of the bytes */
} sb_webui_asset;

extern const sb_webui_asset sb_webui_assets[];
extern const size_t sb_webui_n_assets;

#endif
