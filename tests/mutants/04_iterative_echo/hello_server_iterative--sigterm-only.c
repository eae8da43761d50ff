/* MUTANT of solutions/04_iterative_echo/hello_server_iterative.c
 * mistake: handles SIGTERM but forgets SIGINT, so Ctrl-C still kills it
 * clause: stops on SIGTERM or SIGINT and exits with status 0
 * caught-by: test_hello_iterative_stops_on_signal
 */
/*
 * hello_server_iterative.c - chapter 01's hello server, made iterative
 * (IPv4 only, AF_INET).
 *
 * Serves clients one after another: each gets exactly the 12 bytes
 * "Hello World!" and then the connection is closed.  It runs until it
 * receives SIGTERM or SIGINT (Ctrl-C); then it closes the listening socket
 * and exits with status 0.
 *
 * Usage: hello_server_iterative <port>
 * Partner: ../01_hello/hello_client.c (run it as often as you like)
 * Exercise: 04_iterative_echo, program 3 of 3 (the textbook's follow-up)
 */

#include <arpa/inet.h>   /* htonl(), htons() */
#include <errno.h>       /* errno, EINTR, ECONNABORTED */
#include <netinet/in.h>  /* struct sockaddr_in, INADDR_ANY, in_port_t */
#include <signal.h>      /* sigaction(), sig_atomic_t, SIGTERM, SIGINT */
#include <stdio.h>       /* fprintf(), perror() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset(), strlen(), strerror() */
#include <sys/socket.h>  /* socket(), setsockopt(), bind(), listen(),
                            accept() */
#include <unistd.h>      /* write(), close() */

#define BACKLOG 5        /* connection requests the kernel may queue for us */

/*
 * Set by the signal handler, read by main().  volatile: the compiler must
 * read it from memory on every test, since it changes behind main()'s back.
 * sig_atomic_t: a type that a handler can write in one indivisible step.
 */
static volatile sig_atomic_t stop_requested = 0;

/* Only set the flag: main() does the actual shutting down. */
static void handle_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Print "<what>: <reason errno gives>" on stderr, then exit with status 1. */
static void die_errno(const char *what)
{
    perror(what);
    exit(1);
}

/*
 * Convert a decimal port number ("1" to "65535") into *port.  Returns 0 on
 * success, -1 if text is empty, holds anything but the digits 0-9, or is out
 * of range.  atoi() would turn "abc" into 0, and port 0 means "any port".
 */
static int parse_port(const char *text, in_port_t *port)
{
    const char *p;
    unsigned long value;

    if (*text == '\0')
        return -1;
    /* strtoul() alone would also accept " 80", "+80" and even "-80". */
    for (p = text; *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            return -1;

    errno = 0;
    value = strtoul(text, NULL, 10);
    if (errno != 0 || value < 1 || value > 65535)  /* ERANGE: far too big */
        return -1;
    *port = (in_port_t)value;
    return 0;
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

int main(int argc, char *argv[])
{
    static const char greeting[] = "Hello World!";
    struct sockaddr_in server_addr;
    struct sigaction sa;
    in_port_t port;
    int listen_fd, conn_fd;
    int reuse = 1;

    if (argc != 2) {
        fprintf(stderr, "Usage: hello_server_iterative <port>\n");
        return 1;
    }
    if (parse_port(argv[1], &port) == -1) {
        fprintf(stderr, "hello_server_iterative: invalid port '%s' "
                "(expected 1-65535)\n", argv[1]);
        return 1;
    }

    /*
     * SIGTERM and SIGINT would kill us at once by default, leaving no
     * chance to close anything.  Our handler only records the request.
     * sa_flags is 0, deliberately without SA_RESTART: then a signal that
     * arrives while we are blocked in accept() makes accept() fail with
     * EINTR, and we get to look at the flag.  With SA_RESTART the kernel
     * would quietly restart accept() and we would wait for the next client.
     */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handle_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    if (sigaction(SIGTERM, &sa, NULL) == -1)
        die_errno("sigaction");

    /* A client that resets must cost us an EPIPE error, not our life. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        die_errno("signal");

    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd == -1)
        die_errno("socket");

    /* Restart at once even while old connections sit in TIME_WAIT. */
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
     * A small race remains: a signal that arrives after the test of
     * stop_requested but before accept() starts to wait is noted, yet
     * accept() still blocks until the next client (or a second signal)
     * comes.  It is acceptable here: the window is a few instructions wide
     * and the cost is a late exit, never a wrong one.  Closing the gap
     * needs pselect() with the signals blocked outside it, or the
     * self-pipe trick; later chapters use these.
     */
    while (!stop_requested) {
        conn_fd = accept(listen_fd, NULL, NULL);
        if (conn_fd == -1) {
            /* EINTR: a signal came; the loop test decides what to do. */
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            die_errno("accept");
        }

        /* A client that is already gone ends its own session only. */
        if (write_all(conn_fd, greeting, strlen(greeting)) == -1)
            fprintf(stderr, "hello_server_iterative: write: %s\n",
                    strerror(errno));

        if (close(conn_fd) == -1)
            die_errno("close");
    }

    if (close(listen_fd) == -1)
        die_errno("close");
    return 0;
}
