/*
 * chat_server.c - a multithreaded TCP chat server (IPv4 only, AF_INET).
 *
 * One thread per client.  Every line a client sends (the bytes up to and
 * including '\n') is relayed, whole, to every connected client, the sender
 * included; a mutex guards the list of clients, and a line is sent to all
 * of them while the mutex is held, so lines never interleave.  A client
 * whose socket does not take a line within SEND_TIMEOUT_S seconds is
 * dropped.  At most MAX_CLIENTS clients: one more is sent "server full\n"
 * and closed.  Runs until SIGINT or SIGTERM, then exits with status 0.
 *
 * Usage: chat_server <port>
 * Partner: chat_client.c
 * Exercise: 18_threads, program 1 of 3
 */

#include <arpa/inet.h>   /* htonl(), htons() */
#include <errno.h>       /* errno, EINTR, ECONNABORTED */
#include <netinet/in.h>  /* struct sockaddr_in, INADDR_ANY, in_port_t */
#include <pthread.h>     /* pthread_create(), pthread_detach(), mutexes */
#include <signal.h>      /* sigaction(), pthread_sigmask(), SIGPIPE */
#include <stdint.h>      /* intptr_t */
#include <stdio.h>       /* fprintf(), perror() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset(), memchr(), memmove(), strerror() */
#include <sys/socket.h>  /* socket(), bind(), listen(), accept(), send() */
#include <sys/time.h>    /* struct timeval (SO_SNDTIMEO) */
#include <time.h>        /* clock_gettime(), CLOCK_MONOTONIC */
#include <unistd.h>      /* read(), write(), close() */

#define BACKLOG 64        /* connection requests the kernel may queue for us */
#define MAX_CLIENTS 256   /* clients served at once; one more is turned away */
#define MAX_LINE 1024     /* longest line relayed whole, newline included */
#define SEND_TIMEOUT_S 1  /* a client that takes no line for this long is dropped */

/* The shared state: every client thread reads and changes it, under the mutex. */
struct client {
    int fd;
    int dropped;          /* a send to it failed: skip it until its thread removes it */
};

/*
 * TODO(18.1): declare the shared state, static: an array of MAX_CLIENTS
 * struct client named clients, the number in use (client_count, 0), and
 * clients_mutex, initialised with PTHREAD_MUTEX_INITIALIZER.
 */

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
 * TODO(18.2): write read_some() and write_all() as in chapter 04's
 * echo_server.c: read_some() calls read() again while it fails with EINTR;
 * write_all() writes until all len bytes are out, retries on EINTR, and
 * returns 0, or -1 (errno set) on any other error.  Here write_all() also
 * gives up (errno = EAGAIN, return -1) when bytes are still left once
 * SEND_TIMEOUT_S seconds have passed since it began (clock_gettime() with
 * CLOCK_MONOTONIC): SO_SNDTIMEO bounds each write(), this bounds the line.
 */

static void handle_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/*
 * Send one whole line to every client, the sender included.  The mutex is
 * held for the whole loop: no other thread sends a line in the middle of
 * this one, and no client joins or leaves under our feet.  A client whose
 * send fails (its timeout expired: it does not read; or it is gone) is
 * shut down, which ends its own thread's read(), and skipped from now on.
 */
/*
 * TODO(18.3): write
 *     static void send_to_all(const char *line, size_t len)
 * which should lock clients_mutex; for each client not dropped,
 * write_all() the len bytes, and on failure mark it dropped and
 * shutdown(fd, SHUT_RDWR) it; unlock.
 */

/*
 * Take fd out of the list.  The textbook's loop,
 * while (i++ < clnt_cnt - 1) clnt_socks[i] = clnt_socks[i + 1];
 * increments i before the first copy: it keeps the leaving client and
 * drops its neighbour.  Here the copy starts at the leaving client's slot.
 */
/*
 * TODO(18.4): write
 *     static void remove_client(int fd)
 * which should, under the mutex, find fd in clients[], move every later
 * entry one place down (starting at fd's own slot), and lower client_count.
 */

/*
 * The thread of one client: collect its bytes into lines and relay each
 * whole line.  A line longer than MAX_LINE is relayed in pieces of
 * MAX_LINE bytes.  The client's descriptor arrives by value (cast into the
 * pointer argument), never as the address of main()'s variable, which the
 * next accept() overwrites.
 */
/*
 * TODO(18.5): write
 *     static void *serve_client(void *arg)
 * which should take the descriptor back with (int)(intptr_t)arg; read
 * with read_some() into a buffer of MAX_LINE bytes after what is already
 * there; after each read, send_to_all() every complete line (up to and
 * including '\n', memchr() finds it) and move the rest to the front; when
 * the buffer is full without a newline, send it all as one piece.  When
 * read_some() returns 0 or -1: remove_client(), close(), return NULL.
 */

/*
 * Add a connected client and start its thread, or turn it away.  Signals
 * are blocked while the thread is created, so that it inherits a mask in
 * which SIGINT and SIGTERM stay blocked: they reach the main thread only,
 * whose accept() they interrupt.
 */
/*
 * TODO(18.6): write
 *     static void add_client(int conn_fd, const sigset_t *stop_set)
 * which should set SO_SNDTIMEO (a struct timeval of SEND_TIMEOUT_S
 * seconds) on conn_fd; under the mutex, if MAX_CLIENTS are there already,
 * write "server full\n" and close conn_fd (and return), else append it;
 * then, with stop_set blocked (pthread_sigmask()), pthread_create() a
 * thread running serve_client() with the descriptor passed by value,
 * (void *)(intptr_t)conn_fd, never &conn_fd; restore the mask; if the
 * creation failed, remove_client() and close(); else pthread_detach().
 */

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    struct sigaction sa;
    sigset_t stop_set;
    in_port_t port;
    int listen_fd, conn_fd;
    int reuse = 1;

    if (argc != 2) {
        fprintf(stderr, "Usage: chat_server <port>\n");
        return 1;
    }
    if (parse_port(argv[1], &port) == -1) {
        fprintf(stderr, "chat_server: invalid port '%s' (expected 1-65535)\n", argv[1]);
        return 1;
    }

    /*
     * TODO(18.7): ignore SIGPIPE with signal(): a write() to a client that
     * has reset must fail with EPIPE, not kill the whole server.
     */

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

    /*
     * TODO(18.8): while (!stop_requested): accept() a client (EINTR and
     * ECONNABORTED mean: try again; any other error: die_errno("accept")),
     * then add_client(conn_fd, &stop_set).
     */
    (void)conn_fd;

    /* Returning from main() ends the process, and every client thread. */
    if (close(listen_fd) == -1)
        die_errno("close");
    return 0;
}
