/*
 * srv_json.c - bounded parsing of request bodies (see srv_json.h).
 */
#include "srv_json.h"

#include <stdbool.h>

/* One pass over the bytes, tracking string state so that brackets inside
 * strings do not count. Token length counts every byte of a string
 * (escapes included), which over-approximates the decoded length. */
sb_status sb_srv_json_check(const char *body, size_t len, int max_depth, size_t max_string, sb_error *err) {
    int depth = 0;
    bool in_string = false, escape = false;
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (in_string) {
            if (++run > max_string)
                return sb_error_set(err, SB_ERR_LIMIT, "a string in the request body is longer than %zu bytes",
                                    max_string);
            if (escape)
                escape = false;
            else if (c == '\\')
                escape = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        switch (c) {
        case '"':
            in_string = true;
            run = 0;
            break;
        case '[':
        case '{':
            if (++depth > max_depth)
                return sb_error_set(err, SB_ERR_LIMIT, "the request body nests deeper than %d levels", max_depth);
            break;
        case ']':
        case '}':
            if (depth > 0)
                depth--;
            break;
        default:
            break;
        }
    }
    return SB_OK;
}

/* See srv_json.h. JSON_DISABLE_EOF_CHECK is not set: trailing garbage is
 * an error, as it is for OpenAI. */
sb_status sb_srv_json_parse(const char *body, size_t len, int max_depth, size_t max_string, json_t **out,
                            sb_error *err) {
    *out = NULL;
    if (len == 0)
        return sb_error_set(err, SB_ERR_FORMAT, "the request body is empty; expected a JSON object");
    sb_status st = sb_srv_json_check(body, len, max_depth, max_string, err);
    if (st != SB_OK)
        return st;
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!root)
        return sb_error_set(err, SB_ERR_FORMAT, "invalid JSON in the request body at line %d column %d: %s",
                            jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return sb_error_set(err, SB_ERR_FORMAT, "the request body must be a JSON object");
    }
    *out = root;
    return SB_OK;
}
