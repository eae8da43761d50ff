/*
 * one_read_client.c - see that several write()s can arrive in one read().
 *
 * Connects to a server that writes its message in several pieces and then
 * closes the connection.  The client reads nothing until the server's close
 * (its FIN) has arrived, so that every piece is waiting in the socket's
 * receive buffer; then it calls read() ONCE and reports how many bytes that
 * one call returned: all of them, however many write()s they came from.
 *
 * Usage: one_read_client <IP> <port>
 * Partner: any server that sends a few pieces and closes
 * Exercise: 02_socket_types, program 2 of 3
 */

/*
 * POLLRDHUP ("the peer has shut down its writing half") is a Linux
 * extension to poll(): <poll.h> declares it only with _GNU_SOURCE, which
 * must come before the first #include.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>   /* htons(), inet_pton() */
#include <errno.h>       /* errno, EINTR */
#include <netinet/in.h>  /* struct sockaddr_in, in_port_t */
#include <poll.h>        /* poll(), struct pollfd, POLLRDHUP */
#include <stdio.h>       /* printf(), fprintf(), fwrite(), perror() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset() */
#include <sys/socket.h>  /* socket(), connect() */
#include <unistd.h>      /* read(), close() */

#define BUF_SIZE 4096    /* the size asked of the one read() */

/* Print "<what>: <reason errno gives>" on stderr, then exit with status 1. */
static void die_errno(const char *what)
{
    perror(what);
    exit(1);
}

/*
 * Convert a decimal port number ("1" to "65535") into *port.  Returns 0 on
 * success, -1 if text is empty, holds anything but the digits 0-9, or is out
 * of range.  atoi() would turn "abc" into 0 without complaint.
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
 * TODO(02.5): write
 *     static void wait_for_peer_close(int fd)
 * which blocks until the server's FIN has arrived, without sleep().  Use
 * poll() on fd with events = POLLRDHUP only (POLLIN would wake you at the
 * first byte); retry poll() on EINTR, die_errno("poll") on another error;
 * return once revents has POLLRDHUP, POLLHUP or POLLERR (the last two mean
 * a reset: the read() that follows reports it).
 */

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    in_port_t port;
    int rc;

    if (argc != 3) {
        fprintf(stderr, "Usage: one_read_client <IP> <port>\n");
        return 1;
    }
    if (parse_port(argv[2], &port) == -1) {
        fprintf(stderr, "one_read_client: invalid port '%s' (expected 1-65535)\n",
                argv[2]);
        return 1;
    }

    memset(&server_addr, 0, sizeof server_addr);
    server_addr.sin_family = AF_INET;
    server_addr.sin_port = htons(port);
    rc = inet_pton(AF_INET, argv[1], &server_addr.sin_addr);
    if (rc == -1)
        die_errno("inet_pton");
    if (rc == 0) {
        fprintf(stderr, "one_read_client: invalid IPv4 address '%s'\n", argv[1]);
        return 1;
    }

    /*
     * TODO(02.6): create an IPv4 TCP socket and connect() it to
     * server_addr (die_errno("socket"), die_errno("connect")).  Then
     * wait_for_peer_close(), and only then read() ONCE into a buffer of
     * BUF_SIZE bytes, asking for all of them (a read that fails with EINTR
     * copied nothing: make it again; another -1 is die_errno("read")).
     * Close the socket.
     */

    /*
     * TODO(02.7): print "Bytes returned by one read(): <n>" and a newline
     * (%zd prints a ssize_t), then "Message from server: ", the n bytes
     * (with fwrite()) and a newline.
     */

    return 0;
}
