/*
 * uecho_con_client.c - the UDP echo client with a connected socket (IPv4).
 *
 * The same dialogue as uecho_client.c, but the socket is connect()ed to the
 * server first: connect() on UDP exchanges no packet, it only records the
 * server's address in the socket.  From then on write() and read() do, the
 * kernel delivers only datagrams from that address and port, and an ICMP
 * "port unreachable" that comes back for one of our datagrams is reported
 * by the next call on the socket as ECONNREFUSED: nobody is serving there.
 *
 * Usage: uecho_con_client <IP> <port>
 * Partner: uecho_server.c
 * Exercise: 06_udp, program 5 of 5
 */

#include <arpa/inet.h>   /* htons(), inet_pton() */
#include <errno.h>       /* errno, EINTR */
#include <netinet/in.h>  /* struct sockaddr_in, in_port_t */
#include <poll.h>        /* poll(), struct pollfd, POLLIN */
#include <stdio.h>       /* printf(), fgets(), fflush(), fwrite(), perror() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset(), memcmp(), strcmp(), strcspn(), strlen() */
#include <sys/socket.h>  /* socket(), connect() */
#include <time.h>        /* clock_gettime(), CLOCK_MONOTONIC */
#include <unistd.h>      /* read(), write(), close() */

#define MAX_LINE 1023    /* longest line sent as one datagram (no newline) */
#define TRIES 3          /* sends of one line before giving up */
#define WAIT_MS 1000     /* how long to wait for the echo of each send */

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
 * TODO(06.10): now_ms() and wait_readable(), the same as in
 * uecho_client.c.
 */

/*
 * TODO(06.11): write
 *     static int send_and_wait(int sock_fd, const char *line, size_t len,
 *                              char *reply)
 * as in uecho_client.c, but with write() and read() on the connected
 * socket: the kernel already drops datagrams from anyone but the server,
 * so only the contents need checking (exactly len bytes, memcmp).  Up to
 * TRIES sends, WAIT_MS each.  A read() or write() that fails, other than
 * with EINTR, is an error: die_errno("read") or die_errno("write").  That
 * is how "Connection refused" (ECONNREFUSED) reaches you when nothing
 * serves on the port.
 */

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    in_port_t port;
    int sock_fd, rc;
    char line[MAX_LINE + 2];     /* the line, its newline and a NUL */
    char reply[MAX_LINE + 1];    /* one more byte than the longest line */

    if (argc != 3) {
        fprintf(stderr, "Usage: uecho_con_client <IP> <port>\n");
        return 1;
    }
    if (parse_port(argv[2], &port) == -1) {
        fprintf(stderr, "uecho_con_client: invalid port '%s' (expected 1-65535)\n",
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
        fprintf(stderr, "uecho_con_client: invalid IPv4 address '%s'\n", argv[1]);
        return 1;
    }

    /*
     * TODO(06.12): create the UDP socket and connect() it to server_addr
     * (die_errno("socket"), die_errno("connect")).  On UDP, connect() sends
     * nothing: it only records the peer in the socket.
     */
    sock_fd = -1;   /* replace with the socket() call */

    for (;;) {
        size_t len;

        printf("Insert message(q to quit): ");
        fflush(stdout);

        if (fgets(line, sizeof line, stdin) == NULL) {
            if (ferror(stdin))
                die_errno("fgets");
            break;
        }
        line[strcspn(line, "\n")] = '\0';
        if (strcmp(line, "q") == 0 || strcmp(line, "Q") == 0)
            break;

        len = strlen(line);
        /*
         * TODO(06.13): send_and_wait() the line; -1: a message with
         * "no reply" in it on stderr and exit(1).  Otherwise print
         * "Message from server: ", the len bytes of reply and a newline.
         */
        (void)len;
        (void)reply;
    }

    /* TODO(06.14): close the socket (die_errno("close")). */
    (void)sock_fd;
    return 0;
}
