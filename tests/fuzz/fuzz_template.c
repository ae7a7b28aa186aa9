/*
 * fuzz_template.c - libFuzzer target for the chat-template interpreter.
 *
 * The input is a template source (untrusted, as a model file's
 * tokenizer.chat_template is). It is compiled and rendered against a fixed
 * small conversation with a tool call, a tool result and tool definitions,
 * under tight limits so that every input finishes fast. Any outcome is fine
 * except a crash, a sanitizer report, a leak or a hang; on failure the
 * status must come with a message.
 */
#include "sb_alloc.h"
#include "sb_template.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char k_conversation[] =
    "{\"messages\": ["
    "{\"role\": \"system\", \"content\": \"You are terse.\"},"
    "{\"role\": \"user\", \"content\": \"What's the weather in Paris? \\u00e9\\u200d\\ud83d\\ude00\"},"
    "{\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"id\": \"abc123XYZ\", \"type\": \"function\","
    " \"function\": {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}}]},"
    "{\"role\": \"tool\", \"tool_call_id\": \"abc123XYZ\", \"content\": \"{\\\"temp\\\": 21.5}\"},"
    "{\"role\": \"assistant\", \"content\": \"<think>easy</think>21.5 C\"},"
    "{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Thanks!\"}]}],"
    " \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather\","
    " \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"},"
    " \"days\": {\"type\": \"integer\"}}, \"required\": [\"city\"]}}}],"
    " \"extra\": {\"enable_thinking\": false, \"date_string\": \"26 Jul 2024\"}}";

static sb_tmpl_value *g_messages, *g_tools, *g_extra;

/* Parses the fixed conversation once (kept for the whole run). */
static void load_conversation(void) {
    sb_tmpl_value *doc = NULL;
    sb_error err;
    if (sb_tmpl_value_from_json(k_conversation, sizeof k_conversation - 1, &doc, &err) != SB_OK)
        abort();
    g_messages = sb_tmpl_dict_get(doc, "messages");
    g_tools = sb_tmpl_dict_get(doc, "tools");
    g_extra = sb_tmpl_dict_get(doc, "extra");
    sb_tmpl_value_free(doc);
    if (!g_messages || !g_tools || !g_extra)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_messages)
        load_conversation();
    sb_template_limits lim = {
        .max_source_bytes = 1u << 16,
        .max_output_bytes = 1u << 16,
        .max_memory_bytes = 8u << 20,
        .max_loop_iterations = 20000,
        .max_steps = 300000,
        .max_call_depth = 32,
        .max_nesting = 64,
    };
    sb_template *t = NULL;
    sb_error err = {0};
    sb_status st = sb_template_compile((const char *)data, size, &lim, &t, &err);
    if (st != SB_OK) {
        if (err.msg[0] == '\0' || t != NULL)
            abort();
        return 0;
    }
    for (int agp = 0; agp < 2; agp++) {
        sb_template_inputs in = {.messages = g_messages, .tools = agp ? g_tools : NULL, .add_generation_prompt = agp,
                                 .extra = g_extra, .now = 1721952000};
        in.bos_token = sb_str_from_cstr("<s>");
        in.eos_token = sb_str_from_cstr("</s>");
        char *out = NULL;
        size_t len = 0;
        memset(&err, 0, sizeof err);
        st = sb_template_render(t, &in, &out, &len, &err);
        if (st == SB_OK) {
            if (!out || strlen(out) > len || len > lim.max_output_bytes)
                abort();
        } else if (out != NULL || (st != SB_ERR_INVALID_ARG && err.msg[0] == '\0')) {
            abort();
        }
        sb_free(out);
    }
    sb_template_free(t);
    return 0;
}
