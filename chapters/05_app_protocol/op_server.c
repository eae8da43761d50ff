/*
 * op_server.c - an iterative calculator server (IPv4 only, AF_INET).
 *
 * Serves exactly MAX_CLIENTS connections, one after another.  Each client
 * sends one request: 1 byte operand count N (1-255), N operands of 4 bytes
 * each (two's complement, network byte order), 1 operator byte ('+', '-'
 * or '*').  The server answers with the result, 4 bytes in network byte
 * order, computed left to right modulo 2^32, and closes the connection.
 * A bad request (N = 0, an unknown operator) or a client that leaves before
 * its request is complete gets no reply: a line on stderr, and the server
 * goes on with the next client.  Exits with status 0 after the last one.
 *
 * Usage: op_server <port>
 * Partner: op_client.c
 * Exercise: 05_app_protocol, program 1 of 2
 */

#include <arpa/inet.h>   /* htonl(), htons(), ntohl() */
#include <errno.h>       /* errno, EINTR, ECONNABORTED */
#include <netinet/in.h>  /* struct sockaddr_in, INADDR_ANY, in_port_t */
#include <signal.h>      /* signal(), SIGPIPE, SIG_IGN */
#include <stdint.h>      /* uint32_t */
#include <stdio.h>       /* fprintf(), perror() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memcpy(), memset(), strerror() */
#include <sys/socket.h>  /* socket(), setsockopt(), bind(), listen(),
                            accept() */
#include <unistd.h>      /* read(), write(), close() */

#define BACKLOG 5        /* connection requests the kernel may queue for us */
#define MAX_CLIENTS 5    /* how many connections we serve before exiting */
#define OPERAND_SIZE 4   /* bytes per operand, and of the result */
#define MAX_OPERANDS 255 /* the count is one unsigned byte */
/* the operands and the operator byte of the largest request */
#define MAX_REST (MAX_OPERANDS * OPERAND_SIZE + 1)

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
 * TODO(05.1): write three helpers.
 *     static ssize_t read_exactly(int fd, unsigned char *buf, size_t len)
 * reads until len bytes have come, however many read() calls that takes
 * (the request may arrive one byte at a time).  It calls read() again when
 * it fails with EINTR, stops early when read() returns 0 (the client has
 * closed: no more bytes will ever come), and returns the count received
 * (len, or less at the end of the stream), or -1 on any other error.
 *     static int write_all(int fd, const unsigned char *buf, size_t len)
 * is chapter 04's: write until all len bytes are out, retry on EINTR,
 * return 0, or -1 (errno set) on any other error.
 *     static int receive(int fd, unsigned char *buf, size_t len,
 *                        int client, const char *what)
 * calls read_exactly() and returns 0 if all len bytes came; otherwise it
 * prints a line on stderr (a read error with strerror(errno), or "client N
 * closed the connection before sending <what>") and returns -1.
 */

/*
 * Apply op to the count operands that start at ops (each OPERAND_SIZE bytes
 * in network byte order), left to right.  The arithmetic is done on
 * uint32_t: unsigned arithmetic wraps modulo 2^32 by definition, where
 * signed overflow would be undefined behaviour.  In two's complement the
 * wrapped bits are exactly those of the signed result.
 *
 * TODO(05.2): write
 *     static uint32_t calculate(const unsigned char *ops, size_t count,
 *                               char op)
 * Take the operands one by one: memcpy() 4 bytes into a uint32_t, ntohl()
 * it.  The first is the start value; apply op with each of the others,
 * left to right.  Keep every value in uint32_t.
 */

/*
 * One client, one request.  The count comes first and tells us how many
 * bytes follow: the server reads exactly that many, never "until the client
 * closes", since the client waits for the reply before it closes.
 *
 * TODO(05.3): write
 *     static void serve_client(int conn_fd, int client)
 * Read the count byte into an unsigned char with receive() (if that fails,
 * return: the client is gone).  A count of 0: a line on stderr and return,
 * at once; no operands or operator would make sense of it.  Then receive()
 * the count * OPERAND_SIZE operand bytes and the operator byte into a
 * buffer of MAX_REST bytes.  An operator other than '+', '-' or '*': a line
 * on stderr and return, without a reply.  Otherwise compute with
 * calculate(), htonl() the result and write_all() its 4 bytes; a write
 * error is a line on stderr (this client is gone), not the end of the
 * server.
 */

int main(int argc, char *argv[])
{
    in_port_t port;

    if (argc != 2) {
        fprintf(stderr, "Usage: op_server <port>\n");
        return 1;
    }
    if (parse_port(argv[1], &port) == -1) {
        fprintf(stderr, "op_server: invalid port '%s' (expected 1-65535)\n",
                argv[1]);
        return 1;
    }

    /*
     * A client that resets the connection before we reply would make our
     * write() raise SIGPIPE, whose default action kills the whole server.
     * Ignored, it becomes an EPIPE error that ends only that client.
     */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        die_errno("signal");

    /*
     * TODO(05.4): as in chapter 04's echo_server: socket(), SO_REUSEADDR,
     * bind() to INADDR_ANY and our port (network byte order), listen() with
     * BACKLOG.  Check each call and report a failure with die_errno()
     * naming it.
     */

    /*
     * TODO(05.5): serve MAX_CLIENTS connections, one after another:
     * accept(), count it, serve_client(), close the connected socket (the
     * client then sees the end of the stream).  Every accepted connection
     * counts, good request or bad.  accept() failing with EINTR or
     * ECONNABORTED: try again without counting; any other failure is fatal.
     * Then close the listening socket.
     */

    return 0;
}
