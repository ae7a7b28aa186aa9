/*
 * srv_json.h - parsing untrusted request bodies with bounds.
 *
 * Every JSON body goes through sb_srv_json_parse: a linear pre-scan caps
 * the nesting depth and the length of any single string before jansson
 * sees the bytes (jansson's own depth limit is a compile-time 2048), then
 * jansson parses, then the top level must be an object.
 */
#ifndef SB_SRV_JSON_H
#define SB_SRV_JSON_H

#include "sb_error.h"

#include <jansson.h>
#include <stddef.h>

#define SB_SRV_JSON_DEFAULT_DEPTH 64
#define SB_SRV_JSON_DEFAULT_STRING (4u << 20) /* 4 MiB per string */

/* Checks that body[0..len) nests at most max_depth arrays/objects and has
 * no string (or other token) longer than max_string bytes. Works on any
 * bytes (malformed JSON is left to the parser). SB_ERR_LIMIT names which
 * bound was hit. */
sb_status sb_srv_json_check(const char *body, size_t len, int max_depth, size_t max_string, sb_error *err);

/* Parses a request body into a JSON object (*out: a new reference the
 * caller json_decref's). SB_ERR_LIMIT for a bound, SB_ERR_FORMAT for
 * malformed JSON (message with line and column) or a top level that is not
 * an object. */
sb_status sb_srv_json_parse(const char *body, size_t len, int max_depth, size_t max_string, json_t **out,
                            sb_error *err);

#endif
