/*
 * faults.c - deterministic fault injection for the tests that prove a
 * read/write loop is a loop (tests/harness/faults.py builds and passes it).
 *
 * On loopback, with nothing else to do, the kernel hands a program every
 * byte in one read() and takes every byte in one write(), and no signal
 * ever interrupts either: a program that calls read() or write() once, or
 * that ignores a short count or EINTR, passes.  This library wraps read(),
 * recv(), recvfrom(), write(), send() and sendto() on SOCKET descriptors
 * only (never stdin, stdout, stderr, files or pipes) and, now and then,
 * makes them do what the kernel is allowed to do anyway:
 *
 *   - a short count: the call is made with a smaller size (1 to n-1 bytes),
 *     so the rest of the data stays in the kernel, unread or unwritten;
 *   - -1 with errno EINTR, before anything is read or written, as when a
 *     signal arrives.
 *
 * On a datagram (UDP) socket only the second: a datagram is sent whole or
 * not at all and received whole, and a smaller size would cut it, which the
 * kernel never does to a program that gave room for it.
 *
 * Nothing is ever lost or changed by the library itself: a correct loop
 * gets every byte.  The faults come from a xorshift generator seeded with
 * WORKBOOK_FAULT_SEED; without it (every ordinary run) the calls go straight
 * through.  So that a wrong loop fails whatever the seed, the first faults
 * of a process are certain:
 *
 *   - its first socket read or recv (of at least 1 byte) fails with EINTR,
 *     and the next one of at least 2 bytes is short;
 *   - its first socket write or send (of at least 1 byte) fails with EINTR,
 *     and the next one of at least 2 bytes is short;
 *
 * after that, each call of at least 1 byte fails with EINTR one time in 5
 * (never twice in a row), and each call of at least 2 bytes that does not
 * is short one time in 3.
 *
 * (On a datagram socket "short" does not apply: its calls only fail with
 * EINTR, the first one certainly and then one in 5.)
 *
 * Two ways in, from this one source:
 *
 *   - as a shared library, preloaded (LD_PRELOAD): it defines read() etc.
 *     itself and finds the C library's with dlsym(RTLD_NEXT, ...);
 *   - compiled into a program, with -DWORKBOOK_FAULTS_WRAP and
 *     -Wl,--wrap=read,--wrap=write,--wrap=recv,--wrap=send,
 *     --wrap=recvfrom,--wrap=sendto: the linker
 *     sends the program's calls to __wrap_read() etc., which call
 *     __real_read() etc.  AddressSanitizer must be the first library
 *     loaded, so a sanitized program gets its faults this way.
 */

/*
 * RTLD_NEXT (look the symbol up in the libraries after this one) is a GNU
 * extension: <dlfcn.h> declares it only with _GNU_SOURCE.  The link-time
 * build does not need it, but the same definition does no harm there.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef WORKBOOK_FAULTS_WRAP
#include <dlfcn.h>
#endif

/*
 * recvfrom() and sendto() are declared by glibc with __SOCKADDR_ARG and
 * __CONST_SOCKADDR_ARG (with _GNU_SOURCE, transparent unions of the
 * sockaddr pointer types); a definition must use the same types.
 */

enum fault { NONE, SHORT, INTR };

/* one stream of decisions per direction, so reads do not shift writes */
struct side {
    int calls;          /* socket calls of at least 1 byte so far */
    int shorted;        /* the certain short count has been given */
    int last_intr;      /* the previous call failed with EINTR */
};

static int state = -1;  /* -1: not yet read the seed; 0: off; 1: on */
static uint64_t rng;
static struct side reads, writes;

static void init(void)
{
    const char *seed = getenv("WORKBOOK_FAULT_SEED");
    char *end;
    unsigned long long value;

    state = 0;
    if (seed == NULL || *seed == '\0')
        return;
    value = strtoull(seed, &end, 10);
    if (*end != '\0')
        return;
    /* splitmix64 of the seed: never 0, which xorshift would keep forever */
    rng = value + 0x9E3779B97F4A7C15ull;
    rng = (rng ^ (rng >> 30)) * 0xBF58476D1CE4E5B9ull;
    rng = (rng ^ (rng >> 27)) * 0x94D049BB133111EBull;
    rng ^= rng >> 31;
    if (rng == 0)
        rng = 1;
    state = 1;
}

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* 0: not a socket; otherwise its type (SOCK_STREAM, SOCK_DGRAM, ...). */
static int socket_type(int fd)
{
    struct stat st;
    int saved = errno;
    int type = 0;
    socklen_t len = sizeof type;

    if (fd <= 2)
        return 0;
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
        type = 0;
    else if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type == 0)
        type = SOCK_STREAM;  /* a socket whose type we cannot tell: as before */
    errno = saved;
    return type;
}

/* What to do to a call of len bytes on fd; *len is shortened for SHORT. */
static enum fault decide(struct side *side, int fd, size_t *len)
{
    uint64_t r;
    int type;

    if (state == -1)
        init();
    /* a "length" above SSIZE_MAX is -1 handed on as a count: let it through */
    if (state == 0 || *len == 0 || *len > SIZE_MAX / 2 || (type = socket_type(fd)) == 0)
        return NONE;
    side->calls++;
    if (side->calls == 1) {
        side->last_intr = 1;
        return INTR;
    }
    r = next();
    if (!side->last_intr && r % 5 == 0) {
        side->last_intr = 1;
        return INTR;
    }
    side->last_intr = 0;
    if (type == SOCK_DGRAM)
        return NONE;  /* datagrams are never cut */
    if (*len >= 2 && (!side->shorted || (r >> 8) % 3 == 0)) {
        side->shorted = 1;
        *len = 1 + (size_t)((r >> 16) % (*len - 1));
        return SHORT;
    }
    return NONE;
}

#ifdef WORKBOOK_FAULTS_WRAP

ssize_t __real_read(int fd, void *buf, size_t len);
ssize_t __real_write(int fd, const void *buf, size_t len);
ssize_t __real_recv(int fd, void *buf, size_t len, int flags);
ssize_t __real_send(int fd, const void *buf, size_t len, int flags);
ssize_t __wrap_read(int fd, void *buf, size_t len);
ssize_t __wrap_write(int fd, const void *buf, size_t len);
ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags);
ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags);
ssize_t __real_recvfrom(int fd, void *buf, size_t len, int flags,
                        __SOCKADDR_ARG from, socklen_t *from_len);
ssize_t __real_sendto(int fd, const void *buf, size_t len, int flags,
                      __CONST_SOCKADDR_ARG to, socklen_t to_len);
ssize_t __wrap_recvfrom(int fd, void *buf, size_t len, int flags,
                        __SOCKADDR_ARG from, socklen_t *from_len);
ssize_t __wrap_sendto(int fd, const void *buf, size_t len, int flags,
                      __CONST_SOCKADDR_ARG to, socklen_t to_len);

#define REAL(name) __real_##name
#define WRAP(name) __wrap_##name

#else

static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_recv)(int, void *, size_t, int);
static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_recvfrom)(int, void *, size_t, int, __SOCKADDR_ARG, socklen_t *);
static ssize_t (*real_sendto)(int, const void *, size_t, int, __CONST_SOCKADDR_ARG,
                              socklen_t);

/*
 * dlsym() returns a void *; ISO C has no conversion from it to a function
 * pointer, POSIX guarantees one.  Copying the bytes says so without a
 * -Wpedantic warning.
 */
static void *lookup(const char *name)
{
    void *sym = dlsym(RTLD_NEXT, name);

    if (sym == NULL)
        abort();  /* no C library below us: nothing sensible to do */
    return sym;
}
#define BIND(var, name) do { if (var == NULL) { void *p_ = lookup(name); \
    memcpy(&var, &p_, sizeof var); } } while (0)

static ssize_t call_read(int fd, void *buf, size_t len)
{
    BIND(real_read, "read");
    return real_read(fd, buf, len);
}
static ssize_t call_write(int fd, const void *buf, size_t len)
{
    BIND(real_write, "write");
    return real_write(fd, buf, len);
}
static ssize_t call_recv(int fd, void *buf, size_t len, int flags)
{
    BIND(real_recv, "recv");
    return real_recv(fd, buf, len, flags);
}
static ssize_t call_send(int fd, const void *buf, size_t len, int flags)
{
    BIND(real_send, "send");
    return real_send(fd, buf, len, flags);
}
static ssize_t call_recvfrom(int fd, void *buf, size_t len, int flags,
                             __SOCKADDR_ARG from, socklen_t *from_len)
{
    BIND(real_recvfrom, "recvfrom");
    return real_recvfrom(fd, buf, len, flags, from, from_len);
}
static ssize_t call_sendto(int fd, const void *buf, size_t len, int flags,
                           __CONST_SOCKADDR_ARG to, socklen_t to_len)
{
    BIND(real_sendto, "sendto");
    return real_sendto(fd, buf, len, flags, to, to_len);
}

#define REAL(name) call_##name
#define WRAP(name) name

#endif

ssize_t WRAP(read)(int fd, void *buf, size_t len)
{
    if (decide(&reads, fd, &len) == INTR) {
        errno = EINTR;
        return -1;
    }
    return REAL(read)(fd, buf, len);
}

ssize_t WRAP(write)(int fd, const void *buf, size_t len)
{
    if (decide(&writes, fd, &len) == INTR) {
        errno = EINTR;
        return -1;
    }
    return REAL(write)(fd, buf, len);
}

ssize_t WRAP(recv)(int fd, void *buf, size_t len, int flags)
{
    size_t asked = len;

    if (decide(&reads, fd, &len) == INTR) {
        errno = EINTR;
        return -1;
    }
    /* MSG_WAITALL and MSG_PEEK promise what a short count would break */
    if (flags & (MSG_WAITALL | MSG_PEEK))
        len = asked;
    return REAL(recv)(fd, buf, len, flags);
}

ssize_t WRAP(send)(int fd, const void *buf, size_t len, int flags)
{
    if (decide(&writes, fd, &len) == INTR) {
        errno = EINTR;
        return -1;
    }
    return REAL(send)(fd, buf, len, flags);
}

ssize_t WRAP(recvfrom)(int fd, void *buf, size_t len, int flags,
                       __SOCKADDR_ARG from, socklen_t *from_len)
{
    size_t asked = len;

    if (decide(&reads, fd, &len) == INTR) {
        errno = EINTR;
        return -1;
    }
    if (flags & (MSG_WAITALL | MSG_PEEK))
        len = asked;
    return REAL(recvfrom)(fd, buf, len, flags, from, from_len);
}

ssize_t WRAP(sendto)(int fd, const void *buf, size_t len, int flags,
                     __CONST_SOCKADDR_ARG to, socklen_t to_len)
{
    if (decide(&writes, fd, &len) == INTR) {
        errno = EINTR;
        return -1;
    }
    return REAL(sendto)(fd, buf, len, flags, to, to_len);
}
