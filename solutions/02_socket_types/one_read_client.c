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
 * Block until the peer's FIN has arrived.  TCP hands data over in order,
 * so by then every byte the peer wrote before closing is in our receive
 * buffer.  We ask poll() for POLLRDHUP only, not POLLIN: poll() must not
 * return when the first piece arrives, only when the last one has.  (A
 * reset shows as POLLERR or POLLHUP, which poll() always reports; the
 * read() that follows then says what went wrong.)
 */
static void wait_for_peer_close(int fd)
{
    struct pollfd pfd;

    pfd.fd = fd;
    pfd.events = POLLRDHUP;
    for (;;) {
        pfd.revents = 0;
        if (poll(&pfd, 1, -1) == -1) {
            if (errno == EINTR)
                continue;
            die_errno("poll");
        }
        if (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))
            return;
    }
}

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    in_port_t port;
    int sock_fd, rc;
    char buf[BUF_SIZE];
    ssize_t n;

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

    sock_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (sock_fd == -1)
        die_errno("socket");
    if (connect(sock_fd, (struct sockaddr *)&server_addr,
                sizeof server_addr) == -1)
        die_errno("connect");

    /*
     * No sleep(): a fixed pause is a guess, too short on a slow network
     * and wasted time on a fast one.  The kernel tells us when the
     * server has finished.
     */
    wait_for_peer_close(sock_fd);

    /*
     * The one read().  EINTR means a signal came before any byte was
     * copied, so calling it again is still the one read that returns data.
     */
    do
        n = read(sock_fd, buf, sizeof buf);
    while (n == -1 && errno == EINTR);
    if (n == -1)
        die_errno("read");

    if (close(sock_fd) == -1)
        die_errno("close");

    printf("Bytes returned by one read(): %zd\n", n);
    printf("Message from server: ");
    fwrite(buf, 1, (size_t)n, stdout);
    printf("\n");
    return 0;
}
