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
 * TODO(01.1): write the helper
 *     static int write_all(int fd, const char *buf, size_t len)
 * that writes all len bytes of buf to fd and returns 0, or -1 (errno set)
 * on an error.  write() may write fewer bytes than asked: loop, moving
 * along the buffer, until nothing is left.  If write() fails with EINTR (a
 * signal interrupted it before it wrote anything), simply try again.
 */

int main(int argc, char *argv[])
{
    in_port_t port;

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

    /*
     * TODO(01.2): create the listening socket: IPv4 (AF_INET), TCP
     * (SOCK_STREAM).  Check the result and report a failure with
     * die_errno("socket"), as every step below does with its own call.
     */

    /*
     * TODO(01.3): set SO_REUSEADDR on it (level SOL_SOCKET, an int 1), so
     * that a restarted server can bind its port while old connections
     * linger in TIME_WAIT.
     */

    /*
     * TODO(01.4): fill a struct sockaddr_in (zero it first: it has padding)
     * with the family, the address INADDR_ANY and our port, and bind() the
     * socket to it.  Address and port must be in network byte order: see
     * htonl() and htons().  bind() wants a struct sockaddr *: cast.
     */

    /*
     * TODO(01.5): listen(), with a queue of BACKLOG connection requests.
     * Only from here on can a client's connect() succeed.
     */

    /*
     * TODO(01.6): accept() one client.  It waits until a client connects
     * and returns a NEW socket for talking to that client; the listening
     * socket stays as it was.  You may pass NULL for the client's address.
     */

    /*
     * TODO(01.7): send exactly the 12 bytes "Hello World!" to the client
     * with write_all().  Count them with strlen(), not sizeof: sizeof a
     * string literal includes its terminating NUL, a 13th byte the client
     * never asked for.
     */

    /*
     * TODO(01.8): close the connected socket (the client's read() then
     * returns 0: "no more data"), then the listening socket.  close() can
     * fail too: check it.
     */

    return 0;
}
