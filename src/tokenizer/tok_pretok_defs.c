/*
 * tok_pretok_defs.c - the pre-tokenizer table (see tok_pretok_defs.h).
 *
 * The regexes are those of each model's Hugging Face tokenizer.json, in the
 * form llama.cpp uses them (case-insensitive contractions spelled out as
 * '[sS] etc.). Names, regexes and flags follow llama.cpp's llama-vocab.cpp.
 */
#include "tok_pretok_defs.h"

#define RX_QWEN2                                                                                                   \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "               \
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RX_QWEN35                                                                                                  \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| "       \
    "?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RX_PUNCT_RUN "[\\p{P}\\$\\+<=>\\^~\\|]+"
#define RX_FALCON_PUNCT "[\\p{P}\\$\\+<=>\\^~\\|`]+"
#define RX_CJK "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"
/* Non-ASCII characters are written as PCRE2 \x{..} escapes: several are
 * singletons (U+1F7D, U+2126, U+212A, ...) that an editor's normalisation
 * would silently change. */
#define RX_DS_LLM_LETTERS \
    "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}" \
    "\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}" \
    "\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}" \
    "\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}" \
    "\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}" \
    "\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-" \
    "\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}" \
    "\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}" \
    "\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}" \
    "\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}" \
    "\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}" \
    "\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}" \
    "\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}" \
    "\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-" \
    "\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+"
#define RX_DS_LLM_PUNCT "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+"
#define RX_DS3_MAIN                                                                                                \
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "              \
    "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"
#define RX_PORO " ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{964}\\x{6D4}\\x{60C})]+"

static const char *const n_default[] = {"default", NULL};
static const char *const n_llama3[] = {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral",
                                       "midm-2.0", "lfm2", "jina-v5-nano", NULL};
static const char *const n_ds_llm[] = {"deepseek-llm", NULL};
static const char *const n_ds_coder[] = {"deepseek-coder", NULL};
static const char *const n_ds3[] = {"deepseek-v3", "hunyuan-dense", "joyai-llm", "hy_v4", NULL};
static const char *const n_falcon[] = {"falcon", NULL};
static const char *const n_gpt2[] = {"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de",
                                     "a.x-4.0", "mellum", "modern-bert", "mpt", "olmo", "jais", "exaone4", NULL};
static const char *const n_gpt2_sep[] = {"jina-v1-en", "jina-v2-code", "roberta-bpe", NULL};
static const char *const n_gpt2_noclean[] = {"trillion", "granite-docling", NULL};
static const char *const n_starcoder[] = {"starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2", NULL};
static const char *const n_starcoder_noclean[] = {"command-r", "smollm", NULL};
static const char *const n_qwen2[] = {"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open", NULL};
static const char *const n_qwen2_clean[] = {"stablelm2", "megrez", NULL};
static const char *const n_qwen35[] = {"qwen35", NULL};
static const char *const n_dbrx[] = {"dbrx", "smaug-bpe", NULL};
static const char *const n_chatglm[] = {"glm4", "chatglm-bpe", NULL};
static const char *const n_poro[] = {"poro-chat", NULL};
static const char *const n_bloom[] = {"bloom", "gpt3-finnish", NULL};
static const char *const n_viking[] = {"viking", NULL};

/* Fields: names, regexes, clean_spaces, ignore_merges, add_bos, add_sep, bos_null. */
const sb_pretok_def sb_pretok_defs[] = {
    {n_default, {RX_PUNCT_RUN, SB_RX_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}, true, false, false, false, false},
    {n_llama3, {SB_RX_LLAMA3}, true, true, true, false, false},
    {n_ds_llm, {"[\r\n]", RX_DS_LLM_LETTERS, RX_DS_LLM_PUNCT, "\\s+$", RX_CJK, "\\p{N}+"}, false, false, false, false,
     false},
    {n_ds_coder, {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RX_CJK, "\\p{N}"}, false, false, false, false, false},
    {n_ds3, {"\\p{N}{1,3}", "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+", RX_DS3_MAIN}, false, false, false, false, false},
    {n_falcon, {RX_FALCON_PUNCT, SB_RX_GPT2, "[0-9][0-9][0-9]"}, true, false, false, false, false},
    {n_gpt2, {SB_RX_GPT2}, true, false, false, false, false},
    {n_gpt2_sep, {SB_RX_GPT2}, true, false, false, true, false},
    {n_gpt2_noclean, {SB_RX_GPT2}, false, false, false, false, false},
    {n_starcoder, {"\\p{N}", SB_RX_GPT2}, true, false, false, false, false},
    {n_starcoder_noclean, {"\\p{N}", SB_RX_GPT2}, false, false, false, false, false},
    {n_qwen2, {RX_QWEN2}, false, false, false, false, false},
    {n_qwen2_clean, {RX_QWEN2}, true, false, false, false, false},
    {n_qwen35, {RX_QWEN35}, false, false, false, false, false},
    {n_dbrx, {SB_RX_LLAMA3}, true, false, false, false, false},
    {n_chatglm, {SB_RX_LLAMA3}, true, false, false, false, true},
    {n_poro, {RX_PORO}, false, false, false, false, false},
    {n_bloom, {RX_PORO}, true, false, false, false, false},
    {n_viking, {RX_PORO, "\\p{N}"}, false, false, false, false, false},
};

const size_t sb_pretok_defs_count = sizeof sb_pretok_defs / sizeof sb_pretok_defs[0];
