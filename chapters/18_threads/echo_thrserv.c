/*
 * echo_thrserv.c - a multithreaded TCP echo server (IPv4 only, AF_INET).
 *
 * One detached thread per client: the thread echoes every byte the client
 * sends until the client closes, then closes the connection and ends.  The
 * main thread only accepts.  Runs until SIGINT or SIGTERM, then exits with
 * status 0.
 *
 * Usage: echo_thrserv <port>
 * Partner: echo_mpclient.c (chapter 10), or any echo client
 * Exercise: 18_threads, program 3 of 3
 */

#include <arpa/inet.h>   /* htonl(), htons() */
#include <errno.h>       /* errno, EINTR, ECONNABORTED */
#include <netinet/in.h>  /* struct sockaddr_in, INADDR_ANY, in_port_t */
#include <pthread.h>     /* pthread_create(), pthread_detach() */
#include <signal.h>      /* sigaction(), pthread_sigmask(), SIGPIPE */
#include <stdint.h>      /* intptr_t */
#include <stdio.h>       /* fprintf(), perror() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset(), strerror() */
#include <sys/socket.h>  /* socket(), setsockopt(), bind(), listen(), accept() */
#include <unistd.h>      /* read(), write(), close() */

#define BACKLOG 64       /* connection requests the kernel may queue for us */
#define BUF_SIZE 1024    /* bytes moved per read() */

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

/*
 * TODO(18.13): write read_some() and write_all() as in chapter 04's
 * echo_server.c.
 */

static void handle_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/*
 * The thread of one client: echo until it closes (read() returns 0) or
 * fails.  The descriptor arrives by value, cast into the pointer argument,
 * never as the address of main()'s variable, which the next accept()
 * overwrites.
 */
/*
 * TODO(18.14): write
 *     static void *serve_client(void *arg)
 * which should take the descriptor back with (int)(intptr_t)arg, echo
 * with read_some() and write_all() while read_some() returns > 0 (a note
 * on stderr on an error), then close() it and return NULL.
 */

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    struct sigaction sa;
    sigset_t stop_set, old;
    in_port_t port;
    pthread_t tid;
    int listen_fd, conn_fd, err;
    int reuse = 1;

    if (argc != 2) {
        fprintf(stderr, "Usage: echo_thrserv <port>\n");
        return 1;
    }
    if (parse_port(argv[1], &port) == -1) {
        fprintf(stderr, "echo_thrserv: invalid port '%s' (expected 1-65535)\n", argv[1]);
        return 1;
    }

    /* A write() to a client that has reset: EPIPE, not death by SIGPIPE. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        die_errno("signal");

    /* SIGINT, SIGTERM: no SA_RESTART, so that a blocked accept() returns. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handle_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    if (sigaction(SIGTERM, &sa, NULL) == -1 || sigaction(SIGINT, &sa, NULL) == -1)
        die_errno("sigaction");
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);

    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd == -1)
        die_errno("socket");
    if (setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse) == -1)
        die_errno("setsockopt");

    memset(&server_addr, 0, sizeof server_addr);
    server_addr.sin_family = AF_INET;
    server_addr.sin_addr.s_addr = htonl(INADDR_ANY);
    server_addr.sin_port = htons(port);
    if (bind(listen_fd, (struct sockaddr *)&server_addr, sizeof server_addr) == -1)
        die_errno("bind");
    if (listen(listen_fd, BACKLOG) == -1)
        die_errno("listen");

    while (!stop_requested) {
        conn_fd = accept(listen_fd, NULL, NULL);
        if (conn_fd == -1) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            die_errno("accept");
        }

        /*
         * TODO(18.15): with stop_set blocked (pthread_sigmask(), so that
         * the thread inherits it and SIGINT/SIGTERM reach this thread
         * only), pthread_create() a thread running serve_client(), the
         * descriptor passed by value, (void *)(intptr_t)conn_fd; restore
         * the mask.  If the creation failed (it returns an error number),
         * say so and close(conn_fd); else pthread_detach() the thread.
         */
        (void)tid;
        (void)err;
        (void)old;
        close(conn_fd);
    }

    /* Returning from main() ends the process, and every client thread. */
    if (close(listen_fd) == -1)
        die_errno("close");
    return 0;
}
