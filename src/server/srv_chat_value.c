/*
 * srv_chat_value.c - jansson -> sb_tmpl_value (see srv_chat_value.h). The
 * recursion is bounded by the request body's nesting cap (srv_json.h).
 */
#include "srv_chat_value.h"

#include <string.h>

/* The conversion of one value; NULL when out of memory. */
static sb_tmpl_value *convert(const json_t *j) {
    switch (json_typeof(j)) {
    case JSON_NULL:
        return sb_tmpl_none();
    case JSON_TRUE:
        return sb_tmpl_bool(true);
    case JSON_FALSE:
        return sb_tmpl_bool(false);
    case JSON_INTEGER:
        return sb_tmpl_int((int64_t)json_integer_value(j));
    case JSON_REAL:
        return sb_tmpl_float(json_real_value(j));
    case JSON_STRING:
        return sb_tmpl_string(json_string_value(j), json_string_length(j));
    case JSON_ARRAY: {
        sb_tmpl_value *l = sb_tmpl_list();
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            if (!l || sb_tmpl_list_append(l, convert(v)) != SB_OK) {
                sb_tmpl_value_free(l);
                return NULL;
            }
        }
        return l;
    }
    case JSON_OBJECT: {
        sb_tmpl_value *d = sb_tmpl_dict();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            if (!d || sb_tmpl_dict_set(d, k, strlen(k), convert(v)) != SB_OK) {
                sb_tmpl_value_free(d);
                return NULL;
            }
        }
        return d;
    }
    }
    return NULL;
}

/* See srv_chat_value.h. */
sb_status sb_srv_json_to_tmpl(const json_t *j, sb_tmpl_value **out, sb_error *err) {
    *out = convert(j);
    return *out ? SB_OK : sb_error_set(err, SB_ERR_NOMEM, "out of memory converting the messages");
}
