/*
 * echo_epollserv.c - an edge-triggered epoll echo server (IPv4 only,
 * AF_INET), one thread for every client.
 *
 * Every socket is non-blocking and registered with EPOLLET: epoll reports a
 * socket once when something changes (data arrived, room to write came
 * back), so each event is served until the kernel says EAGAIN.  Each client
 * has a small output buffer (CLIENT_BUF bytes): while it is full because the
 * client does not read its echo, the server stops reading that client and
 * waits for EPOLLOUT, so a client that never reads neither blocks the others
 * nor makes the server buffer without bound.  The server raises its
 * RLIMIT_NOFILE soft limit to the hard limit, to hold thousands of clients.
 * Runs until SIGINT or SIGTERM, then exits with status 0.
 *
 * Usage: echo_epollserv <port>
 * Partner: any echo client (chapter 04's echo_client.c)
 * Exercise: 17_epoll, program 2 of 2
 */

#include <arpa/inet.h>     /* htonl(), htons() */
#include <errno.h>         /* errno, EINTR, EAGAIN, EWOULDBLOCK */
#include <fcntl.h>         /* fcntl(), F_GETFL, F_SETFL, O_NONBLOCK */
#include <netinet/in.h>    /* struct sockaddr_in, INADDR_ANY, in_port_t */
#include <signal.h>        /* sigaction(), SIGINT, SIGTERM, SIGPIPE */
#include <stdio.h>         /* fprintf(), perror() */
#include <stdlib.h>        /* calloc(), free(), exit(), strtoul() */
#include <string.h>        /* memset(), memmove(), strerror() */
#include <sys/epoll.h>     /* epoll_create1(), epoll_ctl(), epoll_wait() */
#include <sys/resource.h>  /* getrlimit(), setrlimit(), RLIMIT_NOFILE */
#include <sys/socket.h>    /* socket(), setsockopt(), bind(), listen(),
                              accept() */
#include <unistd.h>        /* read(), write(), close() */

#define MAX_EVENTS 64      /* events taken from one epoll_wait() */
#define CLIENT_BUF 4096    /* bytes read from a client but not yet echoed */

/* What the server keeps for one client; epoll hands it back in data.ptr. */
struct client {
    int fd;
    int eof;                  /* the client has closed its sending side */
    size_t start, len;        /* the bytes buf[start .. start+len) wait */
    char buf[CLIENT_BUF];
};

enum { KEEP, DONE };          /* what serve_client() says about a client */

static volatile sig_atomic_t stop_requested = 0;

/* Print "<what>: <reason errno gives>" on stderr, then exit with status 1. */
static void die_errno(const char *what)
{
    perror(what);
    exit(1);
}

/*
 * Convert a decimal port number ("1" to "65535") into *port.  Returns 0 on
 * success, -1 if text is empty, holds anything but the digits 0-9, or is out
 * of range.
 */
static int parse_port(const char *text, in_port_t *port)
{
    const char *p;
    unsigned long value;

    if (*text == '\0')
        return -1;
    for (p = text; *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            return -1;

    errno = 0;
    value = strtoul(text, NULL, 10);
    if (errno != 0 || value < 1 || value > 65535)
        return -1;
    *port = (in_port_t)value;
    return 0;
}

static void handle_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags == -1)
        return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/*
 * Write out what the client's buffer holds, until it is empty or the
 * kernel's send buffer is full (EAGAIN: EPOLLOUT will say when there is room
 * again).  Returns 0, or -1 if the client is gone.
 */
static int flush_client(struct client *c)
{
    while (c->len > 0) {
        ssize_t n = write(c->fd, c->buf + c->start, c->len);

        if (n == -1) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        c->start += (size_t)n;
        c->len -= (size_t)n;
    }
    c->start = 0;
    return 0;
}

/*
 * Serve one client after an event, edge-triggered: no new event comes
 * until something changes, so go on until the kernel says EAGAIN.  Either
 * reading stops at EAGAIN (no more data: EPOLLIN comes with the next), or
 * writing does with the buffer full (the client does not read: stop
 * reading it; EPOLLOUT comes when it does).  Returns DONE when the client
 * must be closed: it closed and has all its echo, or it is gone.
 */
static int serve_client(struct client *c)
{
    for (;;) {
        size_t room;
        ssize_t n;

        if (flush_client(c) == -1) {
            fprintf(stderr, "echo_epollserv: write: %s\n", strerror(errno));
            return DONE;
        }
        if (c->eof)
            return c->len == 0 ? DONE : KEEP;

        /* Move the waiting bytes to the front: the room is at the end. */
        if (c->start > 0) {
            memmove(c->buf, c->buf + c->start, c->len);
            c->start = 0;
        }
        room = sizeof c->buf - c->len;
        if (room == 0)
            return KEEP;            /* full: wait for EPOLLOUT */

        n = read(c->fd, c->buf + c->len, room);
        if (n > 0) {
            c->len += (size_t)n;
        } else if (n == 0) {
            c->eof = 1;             /* echo the rest, then close */
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return KEEP;            /* drained: wait for EPOLLIN */
        } else if (errno != EINTR) {
            fprintf(stderr, "echo_epollserv: read: %s\n", strerror(errno));
            return DONE;
        }
    }
}

/* Forget a client: out of the epoll set, closed, freed. */
static void drop_client(int epfd, struct client *c)
{
    if (epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL) == -1)
        perror("epoll_ctl");
    if (close(c->fd) == -1)
        perror("close");
    free(c);
}

/*
 * Take every connection waiting in the listen backlog (the listening socket
 * is non-blocking: EAGAIN when there is none left).  Each client gets its
 * buffer and is watched for both reading and writing, edge-triggered.
 */
static void accept_clients(int epfd, int listen_fd)
{
    for (;;) {
        struct epoll_event ev;
        struct client *c;
        int conn_fd = accept(listen_fd, NULL, NULL);

        if (conn_fd == -1) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                perror("accept");   /* EMFILE, say: the others go on */
            return;
        }
        if (set_nonblocking(conn_fd) == -1)
            die_errno("fcntl");
        c = calloc(1, sizeof *c);
        if (c == NULL) {
            fprintf(stderr, "echo_epollserv: out of memory: client dropped\n");
            close(conn_fd);
            continue;
        }
        c->fd = conn_fd;
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
        ev.data.ptr = c;
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, conn_fd, &ev) == -1)
            die_errno("epoll_ctl");
    }
}

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    struct epoll_event ev, events[MAX_EVENTS];
    struct sigaction sa;
    struct rlimit lim;
    in_port_t port;
    int listen_fd, epfd;
    int reuse = 1;

    if (argc != 2) {
        fprintf(stderr, "Usage: echo_epollserv <port>\n");
        return 1;
    }
    if (parse_port(argv[1], &port) == -1) {
        fprintf(stderr, "echo_epollserv: invalid port '%s' (expected 1-65535)\n",
                argv[1]);
        return 1;
    }

    /* A write() to a client that has reset: EPIPE, not death by SIGPIPE. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        die_errno("signal");

    /* SIGINT, SIGTERM: set a flag; epoll_wait() then fails with EINTR. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handle_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    if (sigaction(SIGTERM, &sa, NULL) == -1 || sigaction(SIGINT, &sa, NULL) == -1)
        die_errno("sigaction");

    /*
     * One descriptor per client: the soft limit (often 1024) would stop
     * accept() long before 10,000 clients.  A process may raise its soft
     * limit up to the hard one.
     */
    if (getrlimit(RLIMIT_NOFILE, &lim) == -1)
        die_errno("getrlimit");
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) == -1)
        die_errno("setrlimit");

    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd == -1)
        die_errno("socket");
    if (setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR,
                   &reuse, sizeof reuse) == -1)
        die_errno("setsockopt");

    memset(&server_addr, 0, sizeof server_addr);
    server_addr.sin_family = AF_INET;
    server_addr.sin_addr.s_addr = htonl(INADDR_ANY);
    server_addr.sin_port = htons(port);
    if (bind(listen_fd, (struct sockaddr *)&server_addr,
             sizeof server_addr) == -1)
        die_errno("bind");
    if (listen(listen_fd, SOMAXCONN) == -1)
        die_errno("listen");
    if (set_nonblocking(listen_fd) == -1)
        die_errno("fcntl");

    /*
     * The listening socket is level-triggered (its data.ptr is NULL): as
     * long as a connection waits in the backlog, epoll reports it.
     */
    epfd = epoll_create1(0);
    if (epfd == -1)
        die_errno("epoll_create1");
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &ev) == -1)
        die_errno("epoll_ctl");

    while (!stop_requested) {
        int i, n = epoll_wait(epfd, events, MAX_EVENTS, -1);

        if (n == -1) {
            /* a signal, or the process was stopped and continued */
            if (errno == EINTR)
                continue;
            die_errno("epoll_wait");
        }
        for (i = 0; i < n; i++) {
            struct client *c = events[i].data.ptr;

            if (c == NULL)
                accept_clients(epfd, listen_fd);
            else if (serve_client(c) == DONE)
                drop_client(epfd, c);
        }
    }

    if (close(epfd) == -1 || close(listen_fd) == -1)
        die_errno("close");
    return 0;
}
