/*
 * sb_hw_transport.c - raw SPI transactions: Linux spidev, a Unix socket to the simulator, or
 * caller-provided operations.
 */
#define _GNU_SOURCE
#include "sb_hw.h"
#include "sb_hw_internal.h"

#include "sb_alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/spi/spidev.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define SOCK_MAX_XFER 4096u

struct sb_hw_transport {
    sb_hw_transport_ops ops;
    void *ctx;
};

typedef struct fd_ctx {
    int fd;
    uint32_t speed_hz;
    char *name;
} fd_ctx;

static void fd_close(void *ctx) {
    fd_ctx *f = ctx;
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    sb_free(f->name);
    sb_free(f);
}

/* --- spidev --- */

static sb_status spidev_xfer(void *ctx, const uint8_t *tx, uint8_t *rx, size_t n, sb_error *err) {
    fd_ctx *f = ctx;
    if (n > UINT32_MAX)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "%s: transfer of %zu bytes is too long", f->name, n);
    struct spi_ioc_transfer tr;
    memset(&tr, 0, sizeof tr);
    tr.tx_buf = (uintptr_t)tx;
    tr.rx_buf = (uintptr_t)rx;
    tr.len = (uint32_t)n;
    tr.speed_hz = f->speed_hz;
    tr.bits_per_word = 8;
    if (ioctl(f->fd, SPI_IOC_MESSAGE(1), &tr) < 0)
        return sb_error_set(err, SB_ERR_IO, "%s: SPI transfer failed: %s", f->name, strerror(errno));
    return SB_OK;
}

static sb_status spidev_lock(void *ctx, sb_error *err) {
    fd_ctx *f = ctx;
    while (flock(f->fd, LOCK_EX) != 0) {
        if (errno != EINTR)
            return sb_error_set(err, SB_ERR_IO, "%s: cannot lock: %s", f->name, strerror(errno));
    }
    return SB_OK;
}

static void spidev_unlock(void *ctx) {
    fd_ctx *f = ctx;
    (void)flock(f->fd, LOCK_UN);
}

static sb_status make(const sb_hw_transport_ops *ops, void *ctx, sb_hw_transport **out, sb_error *err) {
    sb_hw_transport *t = sb_calloc(1, sizeof *t);
    if (!t) {
        if (ops->close)
            ops->close(ctx);
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory creating an SMC transport");
    }
    t->ops = *ops;
    t->ctx = ctx;
    *out = t;
    return SB_OK;
}

static fd_ctx *fd_ctx_new(const char *name, sb_error *err) {
    fd_ctx *f = sb_calloc(1, sizeof *f);
    if (f)
        f->name = sb_strdup(name);
    if (!f || !f->name) {
        sb_free(f);
        sb_error_set(err, SB_ERR_NOMEM, "out of memory opening %s", name);
        return NULL;
    }
    f->fd = -1;
    return f;
}

sb_status sb_hw_transport_spidev(const char *dev, uint32_t speed_hz, sb_hw_transport **out, sb_error *err) {
    *out = NULL;
    if (!dev || !*dev)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "no SPI device given");
    fd_ctx *f = fd_ctx_new(dev, err);
    if (!f)
        return SB_ERR_NOMEM;
    f->speed_hz = speed_hz ? speed_hz : 1000000u;
    f->fd = open(dev, O_RDWR | O_CLOEXEC);
    if (f->fd < 0) {
        sb_status st = sb_error_set(err, SB_ERR_IO, "cannot open %s: %s", dev, strerror(errno));
        fd_close(f);
        return st;
    }
    uint8_t mode = SPI_MODE_3, bits = 8; /* mode 3: the PL022 slave keeps CS low across bytes */
    uint32_t speed = f->speed_hz;
    if (ioctl(f->fd, SPI_IOC_WR_MODE, &mode) < 0 || ioctl(f->fd, SPI_IOC_WR_BITS_PER_WORD, &bits) < 0 ||
        ioctl(f->fd, SPI_IOC_WR_MAX_SPEED_HZ, &speed) < 0) {
        sb_status st = sb_error_set(err, SB_ERR_IO, "%s: cannot configure SPI (mode 3, 8 bits, %u Hz): %s", dev,
                                    (unsigned)speed, strerror(errno));
        fd_close(f);
        return st;
    }
    static const sb_hw_transport_ops ops = {spidev_xfer, spidev_lock, spidev_unlock, fd_close};
    return make(&ops, f, out, err);
}

/* --- Unix socket to the simulator --- */

static sb_status write_all(fd_ctx *f, const uint8_t *p, size_t n, sb_error *err) {
    while (n > 0) {
        ssize_t w = send(f->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return sb_error_set(err, SB_ERR_IO, "%s: write failed: %s", f->name, w < 0 ? strerror(errno) : "closed");
        p += w;
        n -= (size_t)w;
    }
    return SB_OK;
}

static sb_status read_all(fd_ctx *f, uint8_t *p, size_t n, sb_error *err) {
    while (n > 0) {
        ssize_t r = recv(f->fd, p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return sb_error_set(err, SB_ERR_IO, "%s: the simulator did not answer in time", f->name);
        if (r <= 0)
            return sb_error_set(err, SB_ERR_IO, "%s: read failed: %s", f->name, r < 0 ? strerror(errno) : "closed");
        p += r;
        n -= (size_t)r;
    }
    return SB_OK;
}

static sb_status sock_xfer(void *ctx, const uint8_t *tx, uint8_t *rx, size_t n, sb_error *err) {
    fd_ctx *f = ctx;
    if (n == 0 || n > SOCK_MAX_XFER)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "%s: transfer of %zu bytes (1..%u allowed)", f->name, n,
                            SOCK_MAX_XFER);
    uint8_t hdr[4];
    sb_smc_put_u32(hdr, (uint32_t)n);
    sb_status st = write_all(f, hdr, 4, err);
    if (st == SB_OK)
        st = write_all(f, tx, n, err);
    if (st == SB_OK)
        st = read_all(f, hdr, 4, err);
    if (st != SB_OK)
        return st;
    if (sb_smc_get_u32(hdr) != n)
        return sb_error_set(err, SB_ERR_FORMAT, "%s: reply of %u bytes to a %zu-byte transfer", f->name,
                            (unsigned)sb_smc_get_u32(hdr), n);
    return read_all(f, rx, n, err);
}

sb_status sb_hw_transport_socket(const char *path, sb_hw_transport **out, sb_error *err) {
    *out = NULL;
    struct sockaddr_un addr;
    if (!path || !*path)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "no socket path given");
    if (strlen(path) >= sizeof addr.sun_path)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "socket path '%s' is too long", path);
    fd_ctx *f = fd_ctx_new(path, err);
    if (!f)
        return SB_ERR_NOMEM;
    f->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, strlen(path) + 1);
    if (f->fd < 0 || connect(f->fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        sb_status st = sb_error_set(err, SB_ERR_IO, "cannot connect to %s: %s", path, strerror(errno));
        fd_close(f);
        return st;
    }
    struct timeval tv = {2, 0};
    (void)setsockopt(f->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    static const sb_hw_transport_ops ops = {sock_xfer, NULL, NULL, fd_close};
    return make(&ops, f, out, err);
}

sb_status sb_hw_transport_custom(const sb_hw_transport_ops *ops, void *ctx, sb_hw_transport **out, sb_error *err) {
    *out = NULL;
    if (!ops || !ops->xfer)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "SMC transport without a transfer operation");
    return make(ops, ctx, out, err);
}

void sb_hw_transport_free(sb_hw_transport *t) {
    if (!t)
        return;
    if (t->ops.close)
        t->ops.close(t->ctx);
    sb_free(t);
}

sb_status sb_hw_transport_xfer(sb_hw_transport *t, const uint8_t *tx, uint8_t *rx, size_t n, sb_error *err) {
    return t->ops.xfer(t->ctx, tx, rx, n, err);
}

sb_status sb_hw_transport_lock(sb_hw_transport *t, sb_error *err) {
    return t->ops.lock ? t->ops.lock(t->ctx, err) : SB_OK;
}

void sb_hw_transport_unlock(sb_hw_transport *t) {
    if (t->ops.unlock)
        t->ops.unlock(t->ctx);
}
