/*
 * echo_epltserv.c - a level-triggered epoll echo server (IPv4 only,
 * AF_INET) that shows the event coming back.
 *
 * Level-triggered: epoll_wait() reports a socket for as long as it has
 * unread data.  This server reads at most READ_SIZE (4) bytes per event and
 * prints "return epoll_wait" each time epoll_wait() returns, so a message
 * of 20 bytes is seen to wake it at least five times.  The sockets are
 * blocking: with one read() per event, none of them waits.  Runs until
 * SIGINT or SIGTERM, then exits with status 0.
 *
 * Usage: echo_epltserv <port>
 * Partner: any echo client (chapter 04's echo_client.c)
 * Exercise: 17_epoll, program 1 of 2
 */

#include <arpa/inet.h>   /* htonl(), htons() */
#include <errno.h>       /* errno, EINTR */
#include <netinet/in.h>  /* struct sockaddr_in, INADDR_ANY, in_port_t */
#include <signal.h>      /* sigaction(), SIGINT, SIGTERM, SIGPIPE */
#include <stdio.h>       /* printf(), fprintf(), perror(), setvbuf() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset(), strerror() */
#include <sys/epoll.h>   /* epoll_create1(), epoll_ctl(), epoll_wait() */
#include <sys/socket.h>  /* socket(), setsockopt(), bind(), listen(),
                            accept() */
#include <unistd.h>      /* read(), write(), close() */

#define BACKLOG 16       /* connection requests the kernel may queue for us */
#define MAX_EVENTS 64    /* events taken from one epoll_wait() */
#define READ_SIZE 4      /* bytes read per event: small on purpose */

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

/* read() that starts again when a signal interrupts it before any data. */
static ssize_t read_some(int fd, char *buf, size_t len)
{
    ssize_t n;

    do
        n = read(fd, buf, len);
    while (n == -1 && errno == EINTR);
    return n;
}

/*
 * Write all len bytes of buf to fd: write() may write fewer bytes than
 * asked.  Returns 0 on success, -1 with errno set on error.
 */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * One event on a client: one read() of at most READ_SIZE bytes, echoed.
 * What is left stays in the kernel, and level-triggered epoll reports the
 * socket again at the next epoll_wait().  Returns 0, or -1 when the client
 * is finished (it closed, or it is gone) and must be dropped.
 */
static int serve_once(int fd)
{
    char buf[READ_SIZE];
    ssize_t n = read_some(fd, buf, sizeof buf);

    if (n == 0)
        return -1;
    if (n == -1) {
        fprintf(stderr, "echo_epltserv: read: %s\n", strerror(errno));
        return -1;
    }
    if (write_all(fd, buf, (size_t)n) == -1) {
        fprintf(stderr, "echo_epltserv: write: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    struct epoll_event ev, events[MAX_EVENTS];
    struct sigaction sa;
    in_port_t port;
    int listen_fd, epfd;
    int reuse = 1;

    if (argc != 2) {
        fprintf(stderr, "Usage: echo_epltserv <port>\n");
        return 1;
    }
    if (parse_port(argv[1], &port) == -1) {
        fprintf(stderr, "echo_epltserv: invalid port '%s' (expected 1-65535)\n",
                argv[1]);
        return 1;
    }

    /* stdout may be a pipe: show each line at once, not 4 KiB later. */
    setvbuf(stdout, NULL, _IOLBF, 0);

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
    if (listen(listen_fd, BACKLOG) == -1)
        die_errno("listen");

    /* The size argument of epoll_create() is ignored today: epoll_create1. */
    epfd = epoll_create1(0);
    if (epfd == -1)
        die_errno("epoll_create1");
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;            /* level-triggered: the default */
    ev.data.fd = listen_fd;
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
        printf("return epoll_wait\n");

        for (i = 0; i < n; i++) {
            int fd = events[i].data.fd;

            if (fd == listen_fd) {
                int conn_fd = accept(listen_fd, NULL, NULL);

                if (conn_fd == -1) {
                    if (errno == EINTR || errno == ECONNABORTED)
                        continue;
                    die_errno("accept");
                }
                memset(&ev, 0, sizeof ev);
                ev.events = EPOLLIN;
                ev.data.fd = conn_fd;
                if (epoll_ctl(epfd, EPOLL_CTL_ADD, conn_fd, &ev) == -1)
                    die_errno("epoll_ctl");
            } else if (serve_once(fd) == -1) {
                if (epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL) == -1)
                    die_errno("epoll_ctl");
                if (close(fd) == -1)
                    die_errno("close");
            }
        }
    }

    if (close(epfd) == -1 || close(listen_fd) == -1)
        die_errno("close");
    return 0;
}
