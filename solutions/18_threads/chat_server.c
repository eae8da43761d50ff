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

static struct client clients[MAX_CLIENTS];
static int client_count = 0;
static pthread_mutex_t clients_mutex = PTHREAD_MUTEX_INITIALIZER;

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
 * asked.  A client that does not read makes write() block: SO_SNDTIMEO
 * bounds each write() to SEND_TIMEOUT_S seconds, and the clock bounds the
 * whole line, which a client that takes a few bytes now and then would
 * otherwise stretch for ever.  Returns 0 on success, -1 with errno set on
 * error (EAGAIN: the time is up; EPIPE or ECONNRESET: the client is gone).
 */
static int write_all(int fd, const char *buf, size_t len)
{
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (len > 0 && (now.tv_sec - start.tv_sec) * 1000
                       + (now.tv_nsec - start.tv_nsec) / 1000000 >= SEND_TIMEOUT_S * 1000) {
            errno = EAGAIN;
            return -1;
        }
    }
    return 0;
}

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
static void send_to_all(const char *line, size_t len)
{
    int i;

    pthread_mutex_lock(&clients_mutex);
    for (i = 0; i < client_count; i++) {
        if (clients[i].dropped)
            continue;
        if (write_all(clients[i].fd, line, len) == -1) {
            clients[i].dropped = 1;
            shutdown(clients[i].fd, SHUT_RDWR);
        }
    }
    pthread_mutex_unlock(&clients_mutex);
}

/*
 * Take fd out of the list.  The textbook's loop,
 * while (i++ < clnt_cnt - 1) clnt_socks[i] = clnt_socks[i + 1];
 * increments i before the first copy: it keeps the leaving client and
 * drops its neighbour.  Here the copy starts at the leaving client's slot.
 */
static void remove_client(int fd)
{
    int i;

    pthread_mutex_lock(&clients_mutex);
    for (i = 0; i < client_count; i++)
        if (clients[i].fd == fd)
            break;
    if (i < client_count) {
        for (; i < client_count - 1; i++)
            clients[i] = clients[i + 1];
        client_count--;
    }
    pthread_mutex_unlock(&clients_mutex);
}

/*
 * The thread of one client: collect its bytes into lines and relay each
 * whole line.  A line longer than MAX_LINE is relayed in pieces of
 * MAX_LINE bytes.  The client's descriptor arrives by value (cast into the
 * pointer argument), never as the address of main()'s variable, which the
 * next accept() overwrites.
 */
static void *serve_client(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char line[MAX_LINE];
    size_t used = 0;
    ssize_t n;

    while ((n = read_some(fd, line + used, sizeof line - used)) > 0) {
        char *newline;

        used += (size_t)n;
        /* Relay every complete line in the buffer; keep the partial rest. */
        while ((newline = memchr(line, '\n', used)) != NULL || used == sizeof line) {
            size_t len = newline != NULL ? (size_t)(newline - line) + 1 : used;

            send_to_all(line, len);
            memmove(line, line + len, used - len);
            used -= len;
        }
    }
    if (n == -1 && errno != ECONNRESET)
        fprintf(stderr, "chat_server: read: %s\n", strerror(errno));

    remove_client(fd);
    close(fd);
    return NULL;
}

/*
 * Add a connected client and start its thread, or turn it away.  Signals
 * are blocked while the thread is created, so that it inherits a mask in
 * which SIGINT and SIGTERM stay blocked: they reach the main thread only,
 * whose accept() they interrupt.
 */
static void add_client(int conn_fd, const sigset_t *stop_set)
{
    static const char full_message[] = "server full\n";
    struct timeval timeout = { SEND_TIMEOUT_S, 0 };
    pthread_t tid;
    sigset_t old;
    int err;

    /* A client that stops reading: its send fails after the timeout. */
    if (setsockopt(conn_fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) == -1)
        die_errno("setsockopt");

    pthread_mutex_lock(&clients_mutex);
    if (client_count == MAX_CLIENTS) {
        pthread_mutex_unlock(&clients_mutex);
        (void)write_all(conn_fd, full_message, sizeof full_message - 1);
        close(conn_fd);
        return;
    }
    clients[client_count].fd = conn_fd;
    clients[client_count].dropped = 0;
    client_count++;
    pthread_mutex_unlock(&clients_mutex);

    pthread_sigmask(SIG_BLOCK, stop_set, &old);
    err = pthread_create(&tid, NULL, serve_client, (void *)(intptr_t)conn_fd);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        fprintf(stderr, "chat_server: pthread_create: %s\n", strerror(err));
        remove_client(conn_fd);
        close(conn_fd);
        return;
    }
    /* Nobody joins it: detached, its resources go back when it ends. */
    pthread_detach(tid);
}

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
        add_client(conn_fd, &stop_set);
    }

    /* Returning from main() ends the process, and every client thread. */
    if (close(listen_fd) == -1)
        die_errno("close");
    return 0;
}
