#define _GNU_SOURCE
#include "sb_file.h"

#include "sb_alloc.h"
#include "sb_buf.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct sb_mapped_file {
    const uint8_t *data;
    size_t size;
    int mapped; /* 1 if data came from mmap */
    char *path;
};

static const uint8_t empty_file_data[1];

sb_status sb_file_map(const char *path, sb_mapped_file **out, sb_error *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sb_error_set(err, SB_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return sb_error_set(err, SB_ERR_IO, "cannot stat %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return sb_error_set(err, SB_ERR_IO, "%s is not a regular file", path);
    }
    sb_mapped_file *f = sb_calloc(1, sizeof *f);
    char *p = sb_strdup(path);
    if (!f || !p) {
        sb_free(f);
        sb_free(p);
        close(fd);
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory mapping %s", path);
    }
    f->path = p;
    f->size = (size_t)st.st_size;
    if (f->size == 0) {
        f->data = empty_file_data;
    } else {
        void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            sb_free(f->path);
            sb_free(f);
            return sb_error_set(err, SB_ERR_IO, "cannot map %s: %s", path, strerror(e));
        }
        f->data = m;
        f->mapped = 1;
    }
    close(fd);
    *out = f;
    return SB_OK;
}

const uint8_t *sb_mapped_file_data(const sb_mapped_file *f) { return f->data; }
size_t sb_mapped_file_size(const sb_mapped_file *f) { return f->size; }
const char *sb_mapped_file_path(const sb_mapped_file *f) { return f->path; }

void sb_mapped_file_prefetch(const sb_mapped_file *f) {
    if (f->mapped)
        madvise((void *)f->data, f->size, MADV_WILLNEED);
}

void sb_mapped_file_free(sb_mapped_file *f) {
    if (!f)
        return;
    if (f->mapped)
        munmap((void *)f->data, f->size);
    sb_free(f->path);
    sb_free(f);
}

sb_status sb_file_read_all(const char *path, size_t max_size, char **data, size_t *len, sb_error *err) {
    *data = NULL;
    if (len)
        *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return sb_error_set(err, SB_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    sb_buf b;
    sb_buf_init(&b);
    char chunk[65536];
    size_t n;
    sb_status st = SB_OK;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
        if (b.len + n > max_size) {
            st = sb_error_set(err, SB_ERR_LIMIT, "%s is larger than %zu bytes", path, max_size);
            break;
        }
        if (sb_buf_append(&b, chunk, n) != SB_OK) {
            st = sb_error_set(err, SB_ERR_NOMEM, "out of memory reading %s", path);
            break;
        }
    }
    if (st == SB_OK && ferror(fp))
        st = sb_error_set(err, SB_ERR_IO, "error reading %s", path);
    fclose(fp);
    if (st != SB_OK) {
        sb_buf_free(&b);
        return st;
    }
    size_t l;
    char *p = sb_buf_detach(&b, &l);
    if (!p)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory reading %s", path);
    *data = p;
    if (len)
        *len = l;
    return SB_OK;
}

static sb_status write_full(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return SB_ERR_IO;
        }
        p += w;
        len -= (size_t)w;
    }
    return SB_OK;
}

sb_status sb_file_write_atomic(const char *path, const void *data, size_t len, sb_error *err) {
    sb_buf tmp;
    sb_buf_init(&tmp);
    if (sb_buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid()) != SB_OK)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        sb_status st = sb_error_set(err, SB_ERR_IO, "cannot create %s: %s", tmp.data, strerror(errno));
        sb_buf_free(&tmp);
        return st;
    }
    if (write_full(fd, data, len) != SB_OK || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp.data);
        sb_status st = sb_error_set(err, SB_ERR_IO, "cannot write %s: %s", tmp.data, strerror(e));
        sb_buf_free(&tmp);
        return st;
    }
    close(fd);
    if (rename(tmp.data, path) != 0) {
        int e = errno;
        unlink(tmp.data);
        sb_buf_free(&tmp);
        return sb_error_set(err, SB_ERR_IO, "cannot rename to %s: %s", path, strerror(e));
    }
    sb_buf_free(&tmp);
    /* fsync the directory so the rename itself is durable. */
    char *dup = sb_strdup(path);
    if (dup) {
        int dfd = open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        sb_free(dup);
    }
    return SB_OK;
}
