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

/*
 * TODO(10.1): write read_some() and write_all() as in chapter 04's
 * echo_server.c: read_some() calls read() again while it fails with EINTR;
 * write_all() writes until all len bytes are out, retries on EINTR, and
 * returns 0, or -1 (errno set) on any other error.
 */

/*
 * Report one reaped child on stdout: "removed proc id: <pid>\n".  Called
 * from the SIGCHLD handler, where printf() is forbidden (it is not
 * async-signal-safe: the handler may interrupt a printf() of main() and
 * corrupt stdio's buffer, or deadlock on its lock), so the line is built
 * by hand and written with one write(2), which also makes it visible at
 * once: no stdio buffer holds it back.
 *
 * TODO(10.2): write
 *     static void report_removed(pid_t pid)
 * which should build the line in a local char array (the digits of pid
 * by hand, last digit first, then reversed) and write_all() it to
 * STDOUT_FILENO in one call.  No printf(), no snprintf(): neither is
 * async-signal-safe.
 */

/*
 * Signals do not queue: three children that end together may raise one
 * SIGCHLD.  So reap in a loop until no ended child is left (WNOHANG: return
 * 0 instead of blocking while children still run).  waitpid() and write()
 * may change errno, which main() may be about to look at: save it.
 *
 * TODO(10.3): write
 *     static void handle_child(int sig)
 * which should save errno; reap with waitpid(-1, NULL, WNOHANG) in a
 * loop for as long as it returns a pid (> 0), calling report_removed()
 * for each; restore errno.
 */

static void handle_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/*
 * Echo everything the client sends until it closes its side (read()
 * returns 0), in the child.  A read or write error means the client is
 * gone: a note on stderr, and the child ends all the same.
 *
 * TODO(10.4): write
 *     static void serve_client(int conn_fd)
 * which runs chapter 04's loop: while read_some() returns > 0, write
 * back exactly those n bytes with write_all(); on an error, a note on
 * stderr naming the call, and return.
 */

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
     * TODO(10.5): install handle_child() for SIGCHLD with sigaction()
     * (sa_flags = SA_RESTART: an interrupted read() or write() starts
     * again).  Report a failure with die_errno("sigaction").
     */

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

    /*
     * TODO(10.6): while (!stop_requested): accept() a client (EINTR or
     * ECONNABORTED: try again; any other failure: die_errno("accept")),
     * then fork().  The child closes listen_fd, calls serve_client(),
     * closes conn_fd and exit(0)s.  The parent closes its copy of conn_fd
     * and goes straight back to accept().  fork() failing: perror("fork"),
     * close conn_fd, go on.
     */
    (void)conn_fd;
    (void)pid;

    if (close(listen_fd) == -1)
        die_errno("close");
    return 0;
}
