/*
 * echo_selectserv.c - a TCP echo server for many clients at once, with
 * select() (IPv4 only, AF_INET).
 *
 * One process, one thread: select() waits until the listening socket or
 * any connected client is readable, and the server then does exactly the
 * work that will not block: accept() the new client, or one read() from a
 * client and the echo of those bytes.  A client that leaves (read() gives
 * 0) or fails (ECONNRESET) is removed from the set and closed; the others
 * go on.  A connection whose descriptor does not fit in an fd_set
 * (FD_SETSIZE or more) is closed at once.  Runs until SIGINT or SIGTERM,
 * then exits with status 0.
 *
 * Usage: echo_selectserv <port>
 * Partner: any echo client (chapter 04's echo_client.c, chapter 10's
 *          echo_mpclient.c)
 * Exercise: 12_select, program 1 of 1
 */

#include <arpa/inet.h>   /* htonl(), htons() */
#include <errno.h>       /* errno, EINTR, ECONNABORTED, EMFILE, ENFILE */
#include <netinet/in.h>  /* struct sockaddr_in, INADDR_ANY, in_port_t */
#include <signal.h>      /* sigaction(), SIGINT, SIGTERM, SIGPIPE */
#include <stdio.h>       /* fprintf(), perror() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset(), strerror() */
#include <sys/select.h>  /* select(), fd_set, FD_ZERO(), FD_SET(), FD_CLR(),
                            FD_ISSET(), FD_SETSIZE */
#include <sys/socket.h>  /* socket(), setsockopt(), bind(), listen(),
                            accept() */
#include <sys/time.h>    /* struct timeval */
#include <unistd.h>      /* read(), write(), close() */

/*
 * Connection requests the kernel may queue while we are busy: a thousand
 * clients may connect in one burst, and a full queue makes the kernel drop
 * a SYN (the client then retries one second later).
 */
#define BACKLOG 1024
#define BUF_SIZE 1024    /* bytes moved per read() */
#define TIMEOUT_MS 100   /* longest select() wait: see the loop in main() */

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

static void handle_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/*
 * One step for a readable client: one read() (select() said it will not
 * block) and the echo of exactly those bytes.  Returns 0 while the client
 * stays, -1 when it is gone: it closed (read() gave 0) or failed (a reset:
 * ECONNRESET, EPIPE).  A failure ends this client only, never the server.
 */
static int echo_once(int fd)
{
    char buf[BUF_SIZE];
    ssize_t n;

    n = read_some(fd, buf, sizeof buf);
    if (n == 0)
        return -1;
    if (n == -1) {
        fprintf(stderr, "echo_selectserv: read: %s\n", strerror(errno));
        return -1;
    }
    if (write_all(fd, buf, (size_t)n) == -1) {
        fprintf(stderr, "echo_selectserv: write: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    struct sigaction sa;
    struct timeval timeout;
    fd_set reads, ready;
    in_port_t port;
    int listen_fd, conn_fd, fd, fd_max, fd_num;
    int reuse = 1;
    int accept_paused = 0;  /* 1: out of descriptors, listen_fd not watched */

    if (argc != 2) {
        fprintf(stderr, "Usage: echo_selectserv <port>\n");
        return 1;
    }
    if (parse_port(argv[1], &port) == -1) {
        fprintf(stderr, "echo_selectserv: invalid port '%s' (expected 1-65535)\n",
                argv[1]);
        return 1;
    }

    /* A write() to a client that has reset: EPIPE, not death by SIGPIPE. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        die_errno("signal");

    /*
     * SIGINT, SIGTERM: set a flag.  select() is never restarted after a
     * handler (SA_RESTART or not): it fails with EINTR, and the loop below
     * then sees the flag.
     */
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
     * reads is the set of every descriptor we watch: the listening socket
     * and each client.  fd_max is the highest of them: select() looks at
     * descriptors 0 to fd_max only (its first argument is fd_max + 1).
     */
    FD_ZERO(&reads);
    FD_SET(listen_fd, &reads);
    fd_max = listen_fd;

    while (!stop_requested) {
        /*
         * select() overwrites the set it is given with the descriptors
         * that are ready, and Linux writes the time left into the
         * timeout: so both are set afresh before every call.  The timeout
         * bounds how late a stop signal that arrives just after the test
         * of stop_requested, before select() blocks, is seen.
         */
        ready = reads;
        timeout.tv_sec = 0;
        timeout.tv_usec = TIMEOUT_MS * 1000;
        fd_num = select(fd_max + 1, &ready, NULL, NULL, &timeout);
        if (fd_num == -1) {
            if (errno == EINTR)
                continue;
            die_errno("select");
        }
        if (fd_num == 0)
            continue;

        for (fd = 0; fd <= fd_max; fd++) {
            if (!FD_ISSET(fd, &ready))
                continue;
            if (fd == listen_fd) {
                conn_fd = accept(listen_fd, NULL, NULL);
                if (conn_fd == -1) {
                    if (errno == EINTR || errno == ECONNABORTED)
                        continue;   /* a signal, or a client that gave up */
                    if (errno != EMFILE && errno != ENFILE)
                        die_errno("accept");
                    /*
                     * No descriptor left: the request stays queued, so the
                     * listening socket stays readable and select() would
                     * return at once, again and again.  Stop watching it
                     * until a client leaves.
                     */
                    perror("accept");
                    FD_CLR(listen_fd, &reads);
                    accept_paused = 1;
                    continue;
                }
                /*
                 * An fd_set holds descriptors 0 to FD_SETSIZE - 1 only:
                 * FD_SET() of a bigger one writes past its end.  Such a
                 * client cannot be watched: close it at once.
                 */
                if (conn_fd >= FD_SETSIZE) {
                    close(conn_fd);
                    continue;
                }
                FD_SET(conn_fd, &reads);
                if (conn_fd > fd_max)
                    fd_max = conn_fd;
            } else if (echo_once(fd) == -1) {
                /* Gone: stop watching it before its number is reused. */
                FD_CLR(fd, &reads);
                if (close(fd) == -1)
                    perror("close");
                while (fd_max > listen_fd && !FD_ISSET(fd_max, &reads))
                    fd_max--;
                if (accept_paused) {
                    FD_SET(listen_fd, &reads);
                    accept_paused = 0;
                }
            }
        }
    }

    for (fd = 0; fd <= fd_max; fd++)
        if (FD_ISSET(fd, &reads))
            close(fd);
    if (accept_paused)
        close(listen_fd);
    return 0;
}
