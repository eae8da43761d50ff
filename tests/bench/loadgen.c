/*
 * loadgen.c - the load generator of `make bench` (docs/bench.md).
 *
 * Opens N TCP connections to an echo server first (non-blocking connect(),
 * 64 at a time; a refused attempt, or one whose SYN a full listen queue
 * dropped, is tried again until the deadline), and only when all N are
 * established starts the rounds: on
 * every connection at once, R request/response rounds, each sending a
 * random payload (seeded; sizes between -m and -M bytes), reading exactly
 * that many bytes back and comparing them byte for byte.  The round's
 * latency runs from its first byte sent to its last byte back
 * (CLOCK_MONOTONIC).  A connection that has done its rounds is closed with
 * a reset (no TIME_WAIT).  One thread, one epoll set, libc only.
 *
 * Prints one JSON line on stdout: connections established, rounds, bytes,
 * errors by kind (mismatch, closed, reset, timeout, connect), throughput
 * and latency percentiles.  The first few errors are described on stderr.
 * Exit status: 0 when every connection did every round and every byte came
 * back right, 1 when any did not, 2 on a usage or setup error.
 *
 * Usage: loadgen [-n conns] [-r rounds] [-s seed] [-m min] [-M max]
 *                [-t deadline-seconds] [-c connects-in-flight] <ipv4> <port>
 */

/*
 * TCP_QUICKACK is Linux's, declared by <netinet/tcp.h> only outside strict
 * POSIX: _DEFAULT_SOURCE asks glibc for it (and keeps everything POSIX).
 */
#define _DEFAULT_SOURCE

#include <arpa/inet.h>    /* inet_pton(), htons() */
#include <errno.h>        /* errno, EINTR, EAGAIN, EINPROGRESS, ... */
#include <fcntl.h>        /* fcntl(), O_NONBLOCK */
#include <netinet/in.h>   /* struct sockaddr_in */
#include <netinet/tcp.h>  /* TCP_NODELAY, TCP_QUICKACK */
#include <stdint.h>       /* uint64_t, uint8_t */
#include <stdio.h>        /* printf(), fprintf(), perror() */
#include <stdlib.h>       /* calloc(), malloc(), free(), qsort(), strtoul() */
#include <string.h>       /* memcmp(), strerror() */
#include <sys/epoll.h>    /* epoll_create1(), epoll_ctl(), epoll_wait() */
#include <sys/resource.h> /* getrlimit(), setrlimit(), RLIMIT_NOFILE */
#include <sys/socket.h>   /* socket(), connect(), send(), getsockopt() */
#include <time.h>         /* clock_gettime(), CLOCK_MONOTONIC */
#include <unistd.h>       /* read(), close(), getopt() */

#define POOL_SIZE (1u << 20)   /* random bytes payloads are cut from */
#define MAX_EVENTS 1024        /* events taken per epoll_wait() */
#define MAX_SAID 5             /* errors described on stderr */
#define MAX_CONNS 100000
#define MAX_SIZE_LIMIT (1u << 20)
/*
 * A connect() unanswered this long on loopback lost its SYN to a full
 * listen queue: TCP would send it again only after 1 s, then 3 s, 7 s...
 * We give up on it and connect again at once, so that the connect phase
 * measures how fast the server accepts, not TCP's retransmission timer.
 */
#define SYN_LOST_NS 25000000u

enum state { IDLE, CONNECTING, READY, BUSY, DONE, FAILED };
enum kind { E_MISMATCH, E_CLOSED, E_RESET, E_TIMEOUT, E_CONNECT, E_KINDS };
static const char *const kind_name[E_KINDS] = {
    "mismatch", "closed", "reset", "timeout", "connect"
};

struct conn {
    int fd;
    enum state state;
    unsigned round;          /* rounds completed */
    size_t off, size;        /* this round's payload: pool[off .. off+size) */
    size_t sent, got;
    uint64_t started;        /* ns: this round's first send */
    uint64_t retry_at;       /* ns: when a failed connect() is tried again */
    uint64_t connect_at;     /* ns: when this connect() was started */
    uint64_t rng;            /* this connection's payload generator */
    int want_out;            /* EPOLLOUT is in its event mask */
};

static struct {
    unsigned conns, rounds, inflight;
    size_t min_size, max_size;
    uint64_t seed;
    double deadline_s;
    struct sockaddr_in addr;
} opt = { 1, 100, 64, 16, 4096, 1, 10.0, { 0 } };

static uint8_t *pool;
static struct conn *conns;
static int epfd;
static uint64_t *lat;        /* every round's latency, ns */
static size_t nlat;
static uint64_t *first;      /* per connection: ns from the start to its first echo */
static size_t nfirst;
static unsigned long errors[E_KINDS];
static unsigned long said;
static unsigned established, finished, connecting;
static unsigned long syn_lost;   /* connect()s abandoned: SYN_LOST_NS */
static uint64_t bytes, t_start;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: small, fast, and the same stream for the same seed. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717u;
}

static int parse_unsigned(const char *text, unsigned long max, unsigned long *value)
{
    char *end;

    if (*text < '0' || *text > '9')
        return -1;
    errno = 0;
    *value = strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || *value > max)
        return -1;
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "Usage: loadgen [-n conns] [-r rounds] [-s seed] [-m min] [-M max] "
            "[-t deadline-seconds] [-c connects-in-flight] <ipv4> <port>\n");
    exit(2);
}

/* One error on connection i: counted, described if it is among the first. */
static void fail(unsigned i, enum kind kind, const char *fmt, const char *detail)
{
    struct conn *c = &conns[i];

    errors[kind]++;
    if (said++ < MAX_SAID) {
        fprintf(stderr, "loadgen: %s: connection %u, round %u: ", kind_name[kind],
                i + 1, c->round + 1);
        fprintf(stderr, fmt, detail);
        fputc('\n', stderr);
    }
    if (c->fd != -1) {
        close(c->fd);       /* also takes it out of the epoll set */
        c->fd = -1;
    }
    if (c->state == CONNECTING)
        connecting--;
    c->state = FAILED;
    finished++;
}

/*
 * Close without TIME_WAIT: SO_LINGER with a zero timeout makes close() send
 * a reset.  Ten thousand connections per run would otherwise leave ten
 * thousand ephemeral ports in TIME_WAIT for a minute.
 */
static void close_hard(int fd)
{
    struct linger lg = { 1, 0 };

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

static int set_events(struct conn *c, unsigned i, int want_out)
{
    struct epoll_event ev;

    if (want_out == c->want_out)
        return 0;
    ev.events = EPOLLIN | (want_out ? EPOLLOUT : 0);
    ev.data.u32 = i;
    c->want_out = want_out;
    return epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Start (or retry) connection i's connect(). */
static void start_connect(unsigned i)
{
    struct conn *c = &conns[i];
    struct epoll_event ev;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd == -1) {
        perror("loadgen: socket");
        exit(2);
    }
    if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1) {
        perror("loadgen: fcntl");
        exit(2);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->state = CONNECTING;
    c->connect_at = now_ns();
    connecting++;
    ev.events = EPOLLOUT;
    ev.data.u32 = i;
    c->want_out = 1;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
        perror("loadgen: epoll_ctl");
        exit(2);
    }
    if (connect(fd, (struct sockaddr *)&opt.addr, sizeof opt.addr) == -1
        && errno != EINPROGRESS) {
        /* EAGAIN (no ephemeral port free yet), ECONNREFUSED: try again */
        close(fd);
        c->fd = -1;
        c->state = IDLE;
        connecting--;
        c->retry_at = now_ns() + 10000000u;
    }
    /* connected at once or in progress: EPOLLOUT says which, either way */
}

static void connected(unsigned i)
{
    struct conn *c = &conns[i];
    int err = 0;
    socklen_t len = sizeof err;

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
        err = errno;
    connecting--;
    if (err != 0) {
        /* refused (nothing listens yet, or the queue was full): again soon */
        close(c->fd);
        c->fd = -1;
        c->state = IDLE;
        c->retry_at = now_ns() + 10000000u;
        return;
    }
    c->state = READY;
    set_events(c, i, 0);
    established++;
}

static void send_some(unsigned i);

static void start_round(unsigned i)
{
    struct conn *c = &conns[i];
    size_t span = opt.max_size - opt.min_size + 1;

    c->size = opt.min_size + (size_t)(next_random(&c->rng) % span);
    c->off = (size_t)(next_random(&c->rng) % POOL_SIZE);
    c->sent = c->got = 0;
    c->state = BUSY;
    c->started = now_ns();
    send_some(i);
}

static void send_some(unsigned i)
{
    struct conn *c = &conns[i];

    while (c->sent < c->size) {
        ssize_t n = send(c->fd, pool + c->off + c->sent, c->size - c->sent, MSG_NOSIGNAL);

        if (n == -1) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            fail(i, E_RESET, "send: %s", strerror(errno));
            return;
        }
        c->sent += (size_t)n;
    }
    set_events(c, i, c->sent < c->size);
}

static void round_done(unsigned i)
{
    struct conn *c = &conns[i];
    uint64_t t = now_ns();

    lat[nlat++] = t - c->started;
    if (c->round == 0)
        first[nfirst++] = t - t_start;
    bytes += c->size;
    if (++c->round == opt.rounds) {
        close_hard(c->fd);
        c->fd = -1;
        c->state = DONE;
        finished++;
        return;
    }
    start_round(i);
}

static void receive(unsigned i, uint8_t *buf)
{
    struct conn *c = &conns[i];

    for (;;) {
        size_t want = c->size - c->got;
        ssize_t n;

        if (c->state != BUSY)
            want = 1;        /* nothing is owed: any byte is one too many */
        n = read(c->fd, buf, want);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            fail(i, E_RESET, "read: %s", strerror(errno));
            return;
        }
        if (n == 0) {
            char said_got[64];

            snprintf(said_got, sizeof said_got, "%zu of %zu bytes", c->got, c->size);
            fail(i, E_CLOSED, "the server closed the connection after echoing %s",
                 c->state == BUSY ? said_got : "everything, before the rounds began");
            return;
        }
        if (c->state != BUSY || c->got + (size_t)n > c->sent) {
            fail(i, E_MISMATCH, "%s", "the server sent bytes before they were sent to it");
            return;
        }
        if (memcmp(buf, pool + c->off + c->got, (size_t)n) != 0) {
            size_t k = 0;
            char detail[128];

            while (buf[k] == pool[c->off + c->got + k])
                k++;
            snprintf(detail, sizeof detail, "byte %zu of %zu: sent 0x%02x, got back 0x%02x",
                     c->got + k, c->size, pool[c->off + c->got + k], buf[k]);
            fail(i, E_MISMATCH, "%s", detail);
            return;
        }
        c->got += (size_t)n;
        /*
         * Acknowledge at once.  A server that echoes a payload in pieces
         * (1024 bytes per write(), as the textbook's do) has Nagle's
         * algorithm hold each piece after the first until the previous one
         * is acknowledged; a delayed ACK would make every such round wait
         * 40 ms, and the bench would measure that instead of the server.
         */
        setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &(int){ 1 }, sizeof(int));
        if (c->got == c->size) {
            round_done(i);
            if (c->state != BUSY)
                return;
        }
    }
}

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* The p-th percentile (nearest rank) of sorted v[0..n), in microseconds. */
static double pct(const uint64_t *v, size_t n, double p)
{
    size_t rank;

    if (n == 0)
        return 0.0;
    rank = (size_t)(p * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)v[rank - 1] / 1000.0;
}

static void parse_args(int argc, char *argv[])
{
    unsigned long v;
    int ch;

    while ((ch = getopt(argc, argv, "n:r:s:m:M:t:c:")) != -1) {
        switch (ch) {
        case 'n':
            if (parse_unsigned(optarg, MAX_CONNS, &v) == -1 || v == 0)
                usage();
            opt.conns = (unsigned)v;
            break;
        case 'r':
            if (parse_unsigned(optarg, 100000000ul, &v) == -1 || v == 0)
                usage();
            opt.rounds = (unsigned)v;
            break;
        case 's':
            if (parse_unsigned(optarg, 0xfffffffful, &v) == -1)
                usage();
            opt.seed = v;
            break;
        case 'm':
            if (parse_unsigned(optarg, MAX_SIZE_LIMIT, &v) == -1 || v == 0)
                usage();
            opt.min_size = v;
            break;
        case 'M':
            if (parse_unsigned(optarg, MAX_SIZE_LIMIT, &v) == -1 || v == 0)
                usage();
            opt.max_size = v;
            break;
        case 't':
            if (parse_unsigned(optarg, 3600, &v) == -1 || v == 0)
                usage();
            opt.deadline_s = (double)v;
            break;
        case 'c':
            if (parse_unsigned(optarg, MAX_CONNS, &v) == -1 || v == 0)
                usage();
            opt.inflight = (unsigned)v;
            break;
        default:
            usage();
        }
    }
    if (argc - optind != 2 || opt.min_size > opt.max_size)
        usage();
    opt.addr.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[optind], &opt.addr.sin_addr) != 1) {
        fprintf(stderr, "loadgen: invalid IPv4 address '%s'\n", argv[optind]);
        exit(2);
    }
    if (parse_unsigned(argv[optind + 1], 65535, &v) == -1 || v == 0) {
        fprintf(stderr, "loadgen: invalid port '%s' (expected 1-65535)\n", argv[optind + 1]);
        exit(2);
    }
    opt.addr.sin_port = htons((in_port_t)v);
    if ((uint64_t)opt.conns * opt.rounds > 50000000u) {
        fprintf(stderr, "loadgen: %u connections x %u rounds is too many to record\n",
                opt.conns, opt.rounds);
        exit(2);
    }
}

/* Room for a descriptor per connection: the soft limit raised to the hard one. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)opt.conns + 16;

    if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
        perror("loadgen: getrlimit");
        exit(2);
    }
    if (rl.rlim_cur >= need)
        return;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
        fprintf(stderr, "loadgen: %u connections need %lu descriptors; the hard limit "
                "(ulimit -Hn) is %lu\n", opt.conns, (unsigned long)need,
                (unsigned long)rl.rlim_max);
        exit(2);
    }
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
        perror("loadgen: setrlimit");
        exit(2);
    }
}

static void report(uint64_t t_end, uint64_t connect_ns)
{
    double secs = t_start ? (double)(t_end - t_start) / 1e9 : 0.0;
    unsigned long total = 0;
    int k;

    for (k = 0; k < E_KINDS; k++)
        total += errors[k];
    qsort(lat, nlat, sizeof *lat, by_value);
    qsort(first, nfirst, sizeof *first, by_value);
    printf("{\"conns\": %u, \"established\": %u, \"rounds_per_conn\": %u, "
           "\"rounds\": %zu, \"bytes\": %llu, \"seconds\": %.6f, \"connect_seconds\": %.6f, "
           "\"connect_retries\": %lu, \"rounds_per_s\": %.1f, \"mb_per_s\": %.3f, "
           "\"errors\": %lu",
           opt.conns, established, opt.rounds, nlat, (unsigned long long)bytes, secs,
           (double)connect_ns / 1e9, syn_lost, secs > 0 ? (double)nlat / secs : 0.0,
           secs > 0 ? 2.0 * (double)bytes / secs / 1e6 : 0.0, total);
    for (k = 0; k < E_KINDS; k++)
        printf(", \"%s\": %lu", kind_name[k], errors[k]);
    printf(", \"latency_us\": {\"p50\": %.1f, \"p90\": %.1f, \"p99\": %.1f, \"max\": %.1f}",
           pct(lat, nlat, 0.50), pct(lat, nlat, 0.90), pct(lat, nlat, 0.99),
           pct(lat, nlat, 1.0));
    printf(", \"first_echo_us\": {\"p50\": %.1f, \"p99\": %.1f, \"max\": %.1f}}\n",
           pct(first, nfirst, 0.50), pct(first, nfirst, 0.99), pct(first, nfirst, 1.0));
}

int main(int argc, char *argv[])
{
    struct epoll_event events[MAX_EVENTS];
    uint8_t *buf;
    uint64_t rng, deadline, t_begin, connect_ns = 0, last_scan = 0;
    unsigned i, next = 0;
    size_t k;
    int rounds_begun = 0;
    int status;

    parse_args(argc, argv);
    raise_fd_limit();

    pool = malloc(POOL_SIZE + opt.max_size);
    buf = malloc(opt.max_size);
    conns = calloc(opt.conns, sizeof *conns);
    lat = malloc((size_t)opt.conns * opt.rounds * sizeof *lat);
    first = malloc(opt.conns * sizeof *first);
    if (pool == NULL || buf == NULL || conns == NULL || lat == NULL || first == NULL) {
        fprintf(stderr, "loadgen: out of memory\n");
        return 2;
    }
    rng = opt.seed * 0x9e3779b97f4a7c15u + 1;
    for (k = 0; k < POOL_SIZE + opt.max_size; k++)
        pool[k] = (uint8_t)(next_random(&rng) >> 56);
    for (i = 0; i < opt.conns; i++) {
        conns[i].fd = -1;
        conns[i].rng = (opt.seed + 1) * 0x9e3779b97f4a7c15u ^ ((uint64_t)i + 1) << 20;
    }
    epfd = epoll_create1(0);
    if (epfd == -1) {
        perror("loadgen: epoll_create1");
        return 2;
    }

    t_begin = now_ns();
    deadline = t_begin + (uint64_t)(opt.deadline_s * 1e9);
    while (finished < opt.conns) {
        uint64_t t = now_ns();
        int n, timeout_ms = 50, e;

        if (t >= deadline)
            break;
        /* the connect phase: a few at a time, retries when they are due */
        if (!rounds_begun && t - last_scan > 5000000u) {
            last_scan = t;
            for (i = 0; i < opt.conns; i++) {
                struct conn *c = &conns[i];

                if (c->state == CONNECTING && t - c->connect_at > SYN_LOST_NS) {
                    close(c->fd);
                    c->fd = -1;
                    c->state = IDLE;
                    c->retry_at = t;
                    connecting--;
                    syn_lost++;
                }
            }
        }
        if (!rounds_begun) {
            for (i = 0; i < opt.conns && connecting < opt.inflight; i++) {
                unsigned j = (next + i) % opt.conns;

                if (conns[j].state == IDLE && conns[j].retry_at <= t)
                    start_connect(j);
            }
            next = (next + i) % opt.conns;
            if (established == opt.conns) {
                rounds_begun = 1;
                t_start = now_ns();
                connect_ns = t_start - t_begin;
                for (i = 0; i < opt.conns; i++)
                    start_round(i);
                continue;
            }
            timeout_ms = connecting == 0 ? 10 : 5;   /* retries and lost SYNs */
        }
        if ((uint64_t)timeout_ms * 1000000u > deadline - t)
            timeout_ms = (int)((deadline - t) / 1000000u) + 1;
        n = epoll_wait(epfd, events, MAX_EVENTS, timeout_ms);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            perror("loadgen: epoll_wait");
            return 2;
        }
        for (e = 0; e < n; e++) {
            unsigned j = events[e].data.u32;
            struct conn *c = &conns[j];

            if (c->state == CONNECTING) {
                connected(j);
                continue;
            }
            if (c->fd == -1)
                continue;    /* failed or finished earlier in this batch */
            if (events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                receive(j, buf);
            if (c->fd != -1 && c->state == BUSY && (events[e].events & EPOLLOUT))
                send_some(j);
        }
    }

    /* what the deadline cut short */
    for (i = 0; i < opt.conns; i++) {
        struct conn *c = &conns[i];

        if (c->state == DONE || c->state == FAILED)
            continue;
        if (c->state == IDLE || c->state == CONNECTING)
            fail(i, E_CONNECT, "%s", "not connected by the deadline");
        else if (c->state == READY)
            fail(i, E_TIMEOUT, "%s", "connected, but the deadline came before the rounds began "
                 "(another connection never connected)");
        else {
            char detail[96];

            snprintf(detail, sizeof detail, "no full echo by the deadline (%zu of %zu bytes back)",
                     c->got, c->size);
            fail(i, E_TIMEOUT, "%s", detail);
        }
    }
    report(now_ns(), rounds_begun ? connect_ns : now_ns() - t_begin);
    status = finished == opt.conns && nlat == (size_t)opt.conns * opt.rounds ? 0 : 1;
    for (k = 0; k < E_KINDS; k++)
        if (errors[k] != 0)
            status = 1;
    free(pool);
    free(buf);
    free(conns);
    free(lat);
    free(first);
    close(epfd);
    return status;
}
