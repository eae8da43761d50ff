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

/*
 * TODO(17.1): write read_some() and write_all() as in chapter 04's
 * echo_server.c: read_some() calls read() again while it fails with EINTR;
 * write_all() writes until all len bytes are out, retries on EINTR, and
 * returns 0, or -1 (errno set) on any other error.
 */

/*
 * One event on a client: one read() of at most READ_SIZE bytes, echoed.
 * What is left stays in the kernel, and level-triggered epoll reports the
 * socket again at the next epoll_wait().
 *
 * TODO(17.2): write
 *     static int serve_once(int fd)
 * which should call read_some() ONCE into a buffer of READ_SIZE bytes (no
 * loop: the event comes back while bytes are left), write_all() exactly
 * the n bytes read, and return 0; return -1 when the client is finished:
 * read() gave 0, or a read or write failed (a note on stderr naming the
 * call first).
 */

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    struct epoll_event ev, events[MAX_EVENTS];
    struct sigaction sa;
    in_port_t port;
    int listen_fd;
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

    /*
     * TODO(17.3): make the epoll instance (epoll_create1(0)) and register
     * listen_fd for EPOLLIN (level-triggered: no EPOLLET).  Then, while
     * (!stop_requested): epoll_wait(epfd, events, MAX_EVENTS, -1) (EINTR:
     * continue; any other failure: die_errno("epoll_wait")); print the line
     * "return epoll_wait" (stdout is line-buffered above); for each event:
     * the listening socket: accept() the client (EINTR, ECONNABORTED: go
     * on) and register it for EPOLLIN; a client: serve_once(), and when it
     * returns -1, EPOLL_CTL_DEL and close() its socket.  At the end close
     * epfd and listen_fd and return 0.  Failing calls: die_errno("<call>").
     */
    (void)ev;
    (void)events;
    return 0;
}
