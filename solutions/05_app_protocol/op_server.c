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
 * Read exactly len bytes into buf, however many read() calls that takes:
 * TCP keeps no message boundaries, so the request may arrive a byte at a
 * time.  Returns len on success, the (smaller) count received if the peer
 * closed first, or -1 with errno set on an error.
 */
static ssize_t read_exactly(int fd, unsigned char *buf, size_t len)
{
    size_t received = 0;

    while (received < len) {
        ssize_t n = read(fd, buf + received, len - received);

        if (n == -1) {
            if (errno == EINTR)     /* a signal came before any data */
                continue;
            return -1;
        }
        if (n == 0)                 /* end of stream: nothing more will come */
            break;
        received += (size_t)n;
    }
    return (ssize_t)received;
}

/*
 * Write all len bytes of buf to fd: write() may write fewer bytes than
 * asked.  Returns 0 on success, -1 with errno set on error.
 */
static int write_all(int fd, const unsigned char *buf, size_t len)
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

/* Read exactly len bytes, or say on stderr why not: 0 if all came, else -1. */
static int receive(int fd, unsigned char *buf, size_t len, int client,
                   const char *what)
{
    ssize_t n = read_exactly(fd, buf, len);

    if (n == -1) {
        fprintf(stderr, "op_server: client %d: read: %s\n",
                client, strerror(errno));
        return -1;
    }
    if ((size_t)n < len) {
        fprintf(stderr, "op_server: client %d: closed the connection before "
                "sending %s\n", client, what);
        return -1;
    }
    return 0;
}

/*
 * Apply op to the count operands that start at ops (each OPERAND_SIZE bytes
 * in network byte order), left to right.  The arithmetic is done on
 * uint32_t: unsigned arithmetic wraps modulo 2^32 by definition, where
 * signed overflow would be undefined behaviour.  In two's complement the
 * wrapped bits are exactly those of the signed result.
 */
static uint32_t calculate(const unsigned char *ops, size_t count, char op)
{
    uint32_t result = 0, operand;
    size_t i;

    for (i = 0; i < count; i++) {
        /* memcpy(): ops + 4 * i need not be aligned for a uint32_t */
        memcpy(&operand, ops + i * OPERAND_SIZE, OPERAND_SIZE);
        operand = ntohl(operand);
        if (i == 0)
            result = operand;
        else if (op == '+')
            result += operand;
        else if (op == '-')
            result -= operand;
        else
            result *= operand;
    }
    return result;
}

/*
 * One client, one request.  The count comes first and tells us how many
 * bytes follow: the server reads exactly that many, never "until the client
 * closes", since the client waits for the reply before it closes.
 */
static void serve_client(int conn_fd, int client)
{
    unsigned char count;             /* unsigned: counts go up to 255 */
    unsigned char rest[MAX_REST];    /* the operands and the operator */
    size_t operand_bytes;
    char op;
    uint32_t result;

    if (receive(conn_fd, &count, 1, client, "its operand count") == -1)
        return;
    /* No operands: nothing more is coming that would make sense of it. */
    if (count == 0) {
        fprintf(stderr, "op_server: client %d: operand count 0, no reply\n",
                client);
        return;
    }

    operand_bytes = (size_t)count * OPERAND_SIZE;
    if (receive(conn_fd, rest, operand_bytes + 1, client,
                "the whole request") == -1)
        return;

    op = (char)rest[operand_bytes];
    if (op != '+' && op != '-' && op != '*') {
        fprintf(stderr, "op_server: client %d: unknown operator 0x%02x, "
                "no reply\n", client, (unsigned)rest[operand_bytes]);
        return;
    }

    result = htonl(calculate(rest, count, op));
    if (write_all(conn_fd, (const unsigned char *)&result, sizeof result) == -1)
        fprintf(stderr, "op_server: client %d: write: %s\n",
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
    if (listen(listen_fd, BACKLOG) == -1)
        die_errno("listen");

    /*
     * Every accepted connection counts, whether its request was good, bad
     * or never finished: the server serves five connections, not five
     * answers.
     */
    while (served < MAX_CLIENTS) {
        conn_fd = accept(listen_fd, NULL, NULL);
        if (conn_fd == -1) {
            /* A client that gave up while queued is gone; the others are not. */
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            die_errno("accept");
        }
        served++;
        serve_client(conn_fd, served);

        /* Our FIN: the client sees the end of the stream after the reply. */
        if (close(conn_fd) == -1)
            die_errno("close");
    }

    if (close(listen_fd) == -1)
        die_errno("close");
    return 0;
}
