/*
 * bound_host2.c - datagram boundaries, the sending side (IPv4 only).
 *
 * Sends three datagrams of different sizes to the given address and port,
 * one sendto() each, in a row, from one socket that was never bound:
 * "Hi!" (3 bytes), "I'm another UDP host!" (21 bytes) and
 * "Nice to meet you" (16 bytes), without any NUL.  Three sendto() calls
 * are three datagrams, received by three recvfrom() calls (bound_host1.c).
 * Exits with status 0.
 *
 * Usage: bound_host2 <IP> <port>
 * Partner: bound_host1.c
 * Exercise: 06_udp, program 4 of 5
 */

#include <arpa/inet.h>   /* htons(), inet_pton() */
#include <errno.h>       /* errno, EINTR */
#include <netinet/in.h>  /* struct sockaddr_in, in_port_t */
#include <stdio.h>       /* fprintf(), perror() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset(), strlen() */
#include <sys/socket.h>  /* socket(), sendto() */
#include <unistd.h>      /* close() */

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

int main(int argc, char *argv[])
{
    static const char *const messages[] = {
        "Hi!", "I'm another UDP host!", "Nice to meet you"
    };
    struct sockaddr_in your_addr;
    in_port_t port;
    size_t i;
    int sock_fd, rc;

    if (argc != 3) {
        fprintf(stderr, "Usage: bound_host2 <IP> <port>\n");
        return 1;
    }
    if (parse_port(argv[2], &port) == -1) {
        fprintf(stderr, "bound_host2: invalid port '%s' (expected 1-65535)\n",
                argv[2]);
        return 1;
    }
    memset(&your_addr, 0, sizeof your_addr);
    your_addr.sin_family = AF_INET;
    your_addr.sin_port = htons(port);
    rc = inet_pton(AF_INET, argv[1], &your_addr.sin_addr);
    if (rc == -1)
        die_errno("inet_pton");
    if (rc == 0) {
        fprintf(stderr, "bound_host2: invalid IPv4 address '%s'\n", argv[1]);
        return 1;
    }

    sock_fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (sock_fd == -1)
        die_errno("socket");

    /*
     * The socket is not bound: the first sendto() gives it an address and
     * an ephemeral port, and the other two go out from the same port.
     */
    for (i = 0; i < sizeof messages / sizeof messages[0]; i++) {
        size_t len = strlen(messages[i]);   /* the text only, no NUL */

        while (sendto(sock_fd, messages[i], len, 0,
                      (struct sockaddr *)&your_addr, sizeof your_addr) == -1)
            if (errno != EINTR)
                die_errno("sendto");
    }

    if (close(sock_fd) == -1)
        die_errno("close");
    return 0;
}
