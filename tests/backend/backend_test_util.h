/*
 * backend_test_util.h - helpers shared by the backend operation tests
 * (test_backend_ops.c, test_attention_rope.c).
 */
#ifndef SB_BACKEND_TEST_UTIL_H
#define SB_BACKEND_TEST_UTIL_H

#include "sb_backend.h"
#include "sb_test.h"

/* An F32 activation [rows][width] allocated by backend b; its values are
 * the caller's to fill. */
static inline sb_tensor bt_act_f32(sb_backend *b, const char *name, int64_t width, int64_t rows) {
    sb_tensor t;
    int64_t ne[2] = {width, rows};
    sb_tensor_init(&t, name, SB_TYPE_F32, 2, ne);
    sb_error err;
    SB_CHECKF(sb_backend_alloc(b, &t, &err) == SB_OK, "%s", err.msg);
    return t;
}

#endif
