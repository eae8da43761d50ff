/* MUTANT of solutions/04_iterative_echo/echo_server.c
 * mistake: loops around accept() forever instead of stopping after the fifth client
 * clause: exits with status 0 after the fifth client
 * caught-by: test_echo_server_five_clients
 */
/*
 * echo_server.c - an iterative TCP echo server (IPv4 only, AF_INET).
 *
 * Serves exactly MAX_CLIENTS clients, one after another: accepts one,
 * prints "Connected client N", sends back every byte it receives until the
 * client closes, closes that connection, and only then accepts the next.
 * Clients that connect meanwhile wait in the listen queue.  Exits with
 * status 0 after the last client.
 *
 * Usage: echo_server <port>
 * Partner: echo_client.c
 * Exercise: 04_iterative_echo, program 1 of 3
 */

#include <arpa/inet.h>   /* htonl(), htons() */
#include <errno.h>       /* errno, EINTR, ECONNABORTED */
#include <netinet/in.h>  /* struct sockaddr_in, INADDR_ANY, in_port_t */
#include <signal.h>      /* signal(), SIGPIPE, SIG_IGN */
#include <stdio.h>       /* printf(), fprintf(), perror(), setvbuf() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset(), strerror() */
#include <sys/socket.h>  /* socket(), setsockopt(), bind(), listen(),
                            accept() */
#include <unistd.h>      /* read(), write(), close() */

#define BACKLOG 5        /* connection requests the kernel may queue for us */
#define MAX_CLIENTS 5    /* how many clients we serve before exiting */
#define BUF_SIZE 1024    /* bytes moved per read() */

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
 * Echo everything the client sends until it closes its side of the
 * connection (read() returns 0).  A read or write error means this client
 * is gone (ECONNRESET, EPIPE): we say so on stderr and return, so that the
 * server goes on with the next client instead of dying.
 */
static void serve_client(int conn_fd, int client)
{
    char buf[BUF_SIZE];
    ssize_t n;

    /*
     * Test "> 0", not "!= 0": on an error read() returns -1, which is not a
     * byte count.  A loop that only stops at 0 would hand -1 to write() as a
     * length (converted to size_t: a huge number), and on a socket whose
     * error repeats it would never end.  We write back exactly the n bytes
     * read: the data may be binary and contain NULs, so it is never treated
     * as a string.
     */
    while ((n = read_some(conn_fd, buf, sizeof buf)) > 0) {
        if (write_all(conn_fd, buf, (size_t)n) == -1) {
            fprintf(stderr, "echo_server: client %d: write: %s\n",
                    client, strerror(errno));
            return;
        }
    }
    if (n == -1)
        fprintf(stderr, "echo_server: client %d: read: %s\n",
                client, strerror(errno));
}

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    in_port_t port;
    int listen_fd, conn_fd;
    int reuse = 1;
    int served = 0;

    if (argc != 2) {
        fprintf(stderr, "Usage: echo_server <port>\n");
        return 1;
    }
    if (parse_port(argv[1], &port) == -1) {
        fprintf(stderr, "echo_server: invalid port '%s' (expected 1-65535)\n",
                argv[1]);
        return 1;
    }

    /*
     * When stdout is a pipe (a log, a grader), stdio holds output back until
     * 4 KiB or so have piled up.  Line buffering makes each "Connected
     * client N" visible as soon as its line is complete.
     */
    if (setvbuf(stdout, NULL, _IOLBF, 0) != 0) {
        fprintf(stderr, "echo_server: cannot make stdout line-buffered\n");
        return 1;
    }

    /*
     * A write() to a client that has reset the connection raises SIGPIPE,
     * whose default action kills the whole server.  Ignored, it becomes an
     * EPIPE error that ends only that client's session.
     */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        die_errno("signal");

    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd == -1)
        die_errno("socket");

    /*
     * Let a restarted server bind its port at once, while connections of
     * its previous run still sit in TIME_WAIT.  A port on which another
     * socket is listening stays taken: bind() still fails then.
     */
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

    /*
     * While we serve one client, the kernel keeps completing the handshakes
     * of the next ones and queues them: their connect() succeeds, but no
     * byte of theirs is read until we accept() them.
     */
    if (listen(listen_fd, BACKLOG) == -1)
        die_errno("listen");

    /*
     * The iterative server: accept, serve until the client leaves, close,
     * repeat.  One listening socket for the whole run; one connected socket
     * per client.
     */
    while (served >= 0) {
        conn_fd = accept(listen_fd, NULL, NULL);
        if (conn_fd == -1) {
            /*
             * Some systems report a client that gave up while still queued
             * as ECONNABORTED.  That client is gone; the others are not.
             */
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            die_errno("accept");
        }
        served++;
        printf("Connected client %d\n", served);

        serve_client(conn_fd, served);

        /* Closing sends our FIN: the client's read() then returns 0. */
        if (close(conn_fd) == -1)
            die_errno("close");
    }

    if (close(listen_fd) == -1)
        die_errno("close");
    return 0;
}
