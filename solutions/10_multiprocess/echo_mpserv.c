/*
 * echo_mpserv.c - a multiprocess TCP echo server (IPv4 only, AF_INET).
 *
 * One child process per client (fork()): the child echoes every byte the
 * client sends until the client closes, then exits; the parent closes its
 * copy of the connected socket and goes straight back to accept().  A
 * SIGCHLD handler reaps every child that has ended and prints
 * "removed proc id: <pid>" for each.  Runs until SIGINT or SIGTERM, then
 * exits with status 0.
 *
 * Usage: echo_mpserv <port>
 * Partner: echo_mpclient.c
 * Exercise: 10_multiprocess, program 1 of 2
 */

#include <arpa/inet.h>   /* htonl(), htons() */
#include <errno.h>       /* errno, EINTR, ECONNABORTED */
#include <netinet/in.h>  /* struct sockaddr_in, INADDR_ANY, in_port_t */
#include <signal.h>      /* sigaction(), SIGCHLD, SIGINT, SIGTERM, SIGPIPE */
#include <stdio.h>       /* fprintf(), perror() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset(), strerror() */
#include <sys/socket.h>  /* socket(), setsockopt(), bind(), listen(),
                            accept() */
#include <sys/types.h>   /* pid_t */
#include <sys/wait.h>    /* waitpid(), WNOHANG */
#include <unistd.h>      /* fork(), read(), write(), close(), _exit() */

#define BACKLOG 16       /* connection requests the kernel may queue for us */
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
 * asked.  Returns 0 on success, -1 with errno set on error.  Safe in a
 * signal handler: write() is async-signal-safe.
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
 * Report one reaped child on stdout: "removed proc id: <pid>\n".  Called
 * from the SIGCHLD handler, where printf() is forbidden (it is not
 * async-signal-safe: the handler may interrupt a printf() of main() and
 * corrupt stdio's buffer, or deadlock on its lock), so the line is built
 * by hand and written with one write(2), which also makes it visible at
 * once: no stdio buffer holds it back.
 */
static void report_removed(pid_t pid)
{
    static const char prefix[] = "removed proc id: ";
    char line[64];
    char digits[24];
    size_t len = 0, n = 0;
    unsigned long value = (unsigned long)pid;

    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);

    memcpy(line, prefix, sizeof prefix - 1);
    len = sizeof prefix - 1;
    while (n > 0)
        line[len++] = digits[--n];
    line[len++] = '\n';
    (void)write_all(STDOUT_FILENO, line, len);
}

/*
 * Signals do not queue: three children that end together may raise one
 * SIGCHLD.  So reap in a loop until no ended child is left (WNOHANG: return
 * 0 instead of blocking while children still run).  waitpid() and write()
 * may change errno, which main() may be about to look at: save it.
 */
static void handle_child(int sig)
{
    int saved_errno = errno;
    pid_t pid;

    (void)sig;
    while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
        report_removed(pid);
    errno = saved_errno;
}

static void handle_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/*
 * Echo everything the client sends until it closes its side (read()
 * returns 0), in the child.  A read or write error means the client is
 * gone: a note on stderr, and the child ends all the same.
 */
static void serve_client(int conn_fd)
{
    char buf[BUF_SIZE];
    ssize_t n;

    while ((n = read_some(conn_fd, buf, sizeof buf)) > 0) {
        if (write_all(conn_fd, buf, (size_t)n) == -1) {
            fprintf(stderr, "echo_mpserv: write: %s\n", strerror(errno));
            return;
        }
    }
    if (n == -1)
        fprintf(stderr, "echo_mpserv: read: %s\n", strerror(errno));
}

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    struct sigaction sa;
    in_port_t port;
    int listen_fd, conn_fd;
    int reuse = 1;
    pid_t pid;

    if (argc != 2) {
        fprintf(stderr, "Usage: echo_mpserv <port>\n");
        return 1;
    }
    if (parse_port(argv[1], &port) == -1) {
        fprintf(stderr, "echo_mpserv: invalid port '%s' (expected 1-65535)\n",
                argv[1]);
        return 1;
    }

    /* A write() to a client that has reset: EPIPE, not death by SIGPIPE. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        die_errno("signal");

    /*
     * SIGCHLD: reap.  SA_RESTART lets a read() or write() that the signal
     * interrupts start again; accept() is still checked for EINTR below.
     */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handle_child;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGCHLD, &sa, NULL) == -1)
        die_errno("sigaction");

    /* SIGINT, SIGTERM: no SA_RESTART, so that a blocked accept() returns. */
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

    while (!stop_requested) {
        conn_fd = accept(listen_fd, NULL, NULL);
        if (conn_fd == -1) {
            /* EINTR: a SIGCHLD (or the stop signal) came; not an error. */
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            die_errno("accept");
        }

        pid = fork();
        if (pid == -1) {
            /* No child for this client (too many processes): drop it only. */
            perror("fork");
            close(conn_fd);
            continue;
        }
        if (pid == 0) {
            /*
             * The child: it needs the connected socket only.  It must end
             * here: falling back into the loop would make it a second
             * accept()ing server.
             */
            close(listen_fd);
            serve_client(conn_fd);
            close(conn_fd);
            exit(0);
        }
        /*
         * The parent: the child has its own copy of conn_fd.  The
         * connection ends only when every copy is closed, so the parent
         * closes its own at once (or the client never sees the end of
         * stream, and the parent runs out of descriptors).
         */
        if (close(conn_fd) == -1)
            die_errno("close");
    }

    if (close(listen_fd) == -1)
        die_errno("close");
    return 0;
}
