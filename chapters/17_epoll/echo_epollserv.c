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

/*
 * TODO(17.4): write
 *     static int set_nonblocking(int fd)
 * which should add O_NONBLOCK to fd's flags (fcntl F_GETFL, then F_SETFL)
 * and return 0, or -1 if a call failed.
 *
 * TODO(17.5): write
 *     static int flush_client(struct client *c)
 * which should write() the c->len bytes at c->buf + c->start, moving start
 * and len on after each write (a write may be short), until len is 0 (then
 * start = 0) or write() fails with EAGAIN/EWOULDBLOCK (the send buffer is
 * full: keep the rest, return 0).  EINTR: write again.  Any other error:
 * return -1 (the client is gone).
 */

/*
 * Serve one client after an event, edge-triggered: no new event comes
 * until something changes, so go on until the kernel says EAGAIN.  Either
 * reading stops at EAGAIN (no more data: EPOLLIN comes with the next), or
 * writing does with the buffer full (the client does not read: stop
 * reading it; EPOLLOUT comes when it does).  Returns DONE when the client
 * must be closed: it closed and has all its echo, or it is gone.
 *
 * TODO(17.6): write
 *     static int serve_client(struct client *c)
 * as a loop: flush_client() (-1: a note on stderr naming write, DONE); if
 * c->eof, return DONE once len is 0, else KEEP; move the waiting bytes to
 * the front of buf (memmove); if no room is left, return KEEP (the client
 * does not read: wait for EPOLLOUT); read() into the room: > 0 adds to
 * len, 0 sets eof, EAGAIN/EWOULDBLOCK returns KEEP (drained), EINTR goes
 * round again, any other error: a note naming read, DONE.
 *
 * TODO(17.7): write
 *     static void drop_client(int epfd, struct client *c)
 * which should EPOLL_CTL_DEL c->fd, close() it and free(c).
 */

/*
 * Take every connection waiting in the listen backlog (the listening socket
 * is non-blocking: EAGAIN when there is none left).  Each client gets its
 * buffer and is watched for both reading and writing, edge-triggered.
 *
 * TODO(17.8): write
 *     static void accept_clients(int epfd, int listen_fd)
 * as a loop: accept() (EINTR, ECONNABORTED: again; EAGAIN/EWOULDBLOCK:
 * none left, return; anything else, EMFILE say: perror("accept"), return);
 * set_nonblocking() the new socket (failure: die_errno("fcntl")); calloc()
 * its struct client (none: close the socket, go on); set c->fd; register it
 * with epoll_ctl(EPOLL_CTL_ADD) for EPOLLIN | EPOLLOUT | EPOLLET, with
 * ev.data.ptr = c.
 */

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    struct epoll_event ev, events[MAX_EVENTS];
    struct sigaction sa;
    struct rlimit lim;
    in_port_t port;
    int listen_fd;
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
    /*
     * TODO(17.9): getrlimit(RLIMIT_NOFILE, &lim), set lim.rlim_cur to
     * lim.rlim_max, setrlimit() (failures: die_errno("getrlimit") and
     * die_errno("setrlimit")).
     */
    (void)lim;

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

    /*
     * TODO(17.10): make listen_fd non-blocking (set_nonblocking(); failure:
     * die_errno("fcntl")); make the epoll instance (epoll_create1(0)) and
     * register listen_fd for EPOLLIN, level-triggered, with ev.data.ptr =
     * NULL (a client's ptr is its struct client).  Then, while
     * (!stop_requested): epoll_wait(epfd, events, MAX_EVENTS, -1) (EINTR:
     * continue: a signal, or a stop and continue; any other failure:
     * die_errno("epoll_wait")); for each event: ptr NULL: accept_clients();
     * otherwise serve_client(), and drop_client() when it says DONE.  At
     * the end close epfd and listen_fd and return 0.
     */
    (void)ev;
    (void)events;
    return 0;
}
