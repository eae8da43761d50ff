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
 * TODO(04.12): a flag and a signal handler.
 *  - the flag: a static variable of type volatile sig_atomic_t, 0 at
 *    first.  sig_atomic_t can be written by a handler in one indivisible
 *    step; volatile makes main() read it afresh on every test;
 *  - the handler: static void handle_stop(int sig), which only sets the
 *    flag to 1.  Do no I/O in it (printf() is not async-signal-safe); let
 *    main() do the shutting down.
 */

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

/* TODO(04.13): write_all(), as in chapter 01's hello_server.c. */

int main(int argc, char *argv[])
{
    in_port_t port;

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
     * TODO(04.14): install handle_stop() for SIGTERM and for SIGINT with
     * sigaction() (zero the struct sigaction, empty its sa_mask with
     * sigemptyset()).  Leave SA_RESTART out of sa_flags, on purpose: then
     * a signal that arrives while accept() waits makes it fail with EINTR
     * and your loop gets to see the flag.  With SA_RESTART the kernel would
     * restart accept() and the server would not stop.
     */

    /* A client that resets must cost us an EPIPE error, not our life. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        die_errno("signal");

    /*
     * TODO(04.15): socket(), SO_REUSEADDR, bind() to INADDR_ANY and our
     * port, listen() with BACKLOG: as in hello_server.c, each call checked.
     */

    /*
     * TODO(04.16): while the flag is not set: accept() a client (if it
     * fails with EINTR, go back to the loop test, which sees the flag; also
     * retry on ECONNABORTED; die on anything else), send it the 12 bytes of
     * "Hello World!" with write_all() (if that fails, note it on stderr:
     * that client is gone, the server goes on), close the connection.
     * A small race remains: a signal that lands between the loop test and
     * the moment accept() starts to wait is only seen after the next
     * client.  Say in a comment why that is acceptable here.
     */

    /* TODO(04.17): close the listening socket; return 0. */

    return 0;
}
