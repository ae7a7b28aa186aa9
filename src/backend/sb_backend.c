#include "sb_backend.h"

#include <string.h>

void sb_tensor_init(sb_tensor *t, const char *name, uint32_t type, int n_dims, const int64_t *ne) {
    memset(t, 0, sizeof *t);
    t->type = type;
    t->n_dims = n_dims;
    for (int i = 0; i < 4; i++)
        t->ne[i] = i < n_dims ? ne[i] : 1;
    if (name) {
        strncpy(t->name, name, sizeof t->name - 1);
    }
}

int64_t sb_tensor_nelements(const sb_tensor *t) { return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]; }

size_t sb_tensor_row_bytes(const sb_tensor *t) {
    uint64_t bytes = 0;
    sb_type_row_size(t->type, (uint64_t)t->ne[0], &bytes);
    return (size_t)bytes;
}
