/*
 * srv_chat_value.h - jansson values -> chat-template values (sb_tmpl_value),
 * so that validated OpenAI messages and tools reach the template as the
 * dicts and lists a Hugging Face template expects.
 */
#ifndef SB_SRV_CHAT_VALUE_H
#define SB_SRV_CHAT_VALUE_H

#include "sb_error.h"
#include "sb_template.h"

#include <jansson.h>

/* Converts j (any JSON value; objects keep their key order) into a new
 * value the caller frees with sb_tmpl_value_free. SB_ERR_NOMEM only. */
sb_status sb_srv_json_to_tmpl(const json_t *j, sb_tmpl_value **out, sb_error *err);

#endif
