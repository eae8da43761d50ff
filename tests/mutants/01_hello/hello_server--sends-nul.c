/* MUTANT of solutions/01_hello/hello_server.c
 * mistake: counts the greeting with sizeof, so it sends 13 bytes: "Hello World!" and its terminating NUL
 * clause: the server sends exactly the 12 bytes 'Hello World!' (no NUL)
 * caught-by: test_hello_server_greeting
 */
/*
 * hello_server.c - the smallest useful TCP server (IPv4 only, AF_INET).
 *
 * Waits for one client on the given port, sends it the 12 bytes
 * "Hello World!" (no terminating NUL: TCP carries bytes, not C strings),
 * closes the connection and the listening socket, and exits with status 0.
 *
 * Usage: hello_server <port>
 * Partner: hello_client.c (connects to this server and prints the greeting)
 * Exercise: 01_hello, program 1 of 2
 */

#include <arpa/inet.h>   /* htonl(), htons() */
#include <errno.h>       /* errno, EINTR */
#include <netinet/in.h>  /* struct sockaddr_in, INADDR_ANY, in_port_t */
#include <signal.h>      /* signal(), SIGPIPE, SIG_IGN */
#include <stdio.h>       /* fprintf(), perror() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset(), strlen() */
#include <sys/socket.h>  /* socket(), setsockopt(), bind(), listen(),
                            accept() */
#include <unistd.h>      /* write(), close() */

#define BACKLOG 5        /* connection requests the kernel may queue for us */

/* Print "<what>: <reason errno gives>" on stderr, then exit with status 1. */
static void die_errno(const char *what)
{
    perror(what);
    exit(1);
}

/*
 * Convert a decimal port number ("1" to "65535") into *port.  Returns 0 on
 * success, -1 if text is empty, holds anything but the digits 0-9, or is out
 * of range.  We never use atoi(): it turns "abc" into 0 and "80x" into 80
 * without complaint, and binding port 0 silently picks some free port.
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
 * Write all len bytes of buf to fd.  write() may write fewer bytes than
 * asked (a full socket buffer, a signal), so we loop until everything is
 * out.  Returns 0 on success, -1 with errno set on error.
 */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n == -1) {
            if (errno == EINTR)
                continue;   /* interrupted before writing anything: retry */
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
    in_port_t port;
    int listen_fd, conn_fd;
    int reuse = 1;

    if (argc != 2) {
        fprintf(stderr, "Usage: hello_server <port>\n");
        return 1;
    }
    if (parse_port(argv[1], &port) == -1) {
        fprintf(stderr, "hello_server: invalid port '%s' (expected 1-65535)\n",
                argv[1]);
        return 1;
    }

    /*
     * Writing to a connection the client has already reset raises SIGPIPE,
     * which kills the process without a word.  Ignoring it makes write()
     * fail with EPIPE instead, which we can report.
     */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        die_errno("signal");

    /* An IPv4 (AF_INET) TCP (SOCK_STREAM) socket: so far just a descriptor. */
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd == -1)
        die_errno("socket");

    /*
     * After a server exits, its old connections linger in TIME_WAIT for a
     * minute or so; without SO_REUSEADDR a restart on the same port would
     * fail with "Address already in use" until they are gone.  It does not
     * let us share a port that another socket is listening on.
     */
    if (setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR,
                   &reuse, sizeof reuse) == -1)
        die_errno("setsockopt");

    /*
     * Give the socket its address: any of this host's IPv4 addresses
     * (INADDR_ANY) and our port.  Both numbers go in network byte order
     * (big-endian), whatever the byte order of this machine.
     */
    memset(&server_addr, 0, sizeof server_addr);
    server_addr.sin_family = AF_INET;
    server_addr.sin_addr.s_addr = htonl(INADDR_ANY);
    server_addr.sin_port = htons(port);
    if (bind(listen_fd, (struct sockaddr *)&server_addr,
             sizeof server_addr) == -1)
        die_errno("bind");

    /*
     * From now on the kernel completes clients' connection requests by
     * itself and queues them (up to about BACKLOG) until we accept them.
     * A client's connect() can succeed before we ever call accept().
     */
    if (listen(listen_fd, BACKLOG) == -1)
        die_errno("listen");

    /*
     * Take the first connection from the queue, waiting for one if there
     * is none yet.  The result is a new socket connected to that client;
     * listen_fd goes on listening.  We do not need the client's address,
     * so we pass NULL for it.
     */
    conn_fd = accept(listen_fd, NULL, NULL);
    if (conn_fd == -1)
        die_errno("accept");

    /* strlen(), not sizeof: sizeof would also send the terminating NUL. */
    if (write_all(conn_fd, greeting, sizeof greeting) == -1)
        die_errno("write");

    /* Closing the connection is what tells the client "that was all". */
    if (close(conn_fd) == -1)
        die_errno("close");
    if (close(listen_fd) == -1)
        die_errno("close");
    return 0;
}
