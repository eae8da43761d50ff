/*
 * bound_host1.c - datagram boundaries, the receiving side (IPv4 only).
 *
 * Binds a UDP socket to the port given on the command line and receives
 * exactly three datagrams, one recvfrom() each, printing the size of each
 * one as "Message N: SIZE bytes".  However fast the datagrams came, and
 * however long they waited in the socket's buffer, each recvfrom() returns
 * one whole datagram: UDP keeps the boundaries that TCP's byte stream does
 * not.  Exits with status 0 after the third.
 *
 * Usage: bound_host1 <port>
 * Partner: bound_host2.c
 * Exercise: 06_udp, program 3 of 5
 */

#include <arpa/inet.h>   /* htonl(), htons() */
#include <errno.h>       /* errno, EINTR */
#include <netinet/in.h>  /* struct sockaddr_in, INADDR_ANY, in_port_t */
#include <stdio.h>       /* printf(), fprintf(), perror(), setvbuf() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset() */
#include <sys/socket.h>  /* socket(), bind(), recvfrom() */
#include <unistd.h>      /* close() */

#define MESSAGES 3       /* datagrams to receive */
#define BUF_SIZE 65507   /* the largest UDP payload over IPv4 */

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
    static char buf[BUF_SIZE];
    struct sockaddr_in my_addr;
    in_port_t port;
    int sock_fd, i;

    if (argc != 2) {
        fprintf(stderr, "Usage: bound_host1 <port>\n");
        return 1;
    }
    if (parse_port(argv[1], &port) == -1) {
        fprintf(stderr, "bound_host1: invalid port '%s' (expected 1-65535)\n",
                argv[1]);
        return 1;
    }
    /* Each line must be seen when printed, even when stdout is a pipe. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    sock_fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (sock_fd == -1)
        die_errno("socket");

    /*
     * TODO(06.15): bind the socket to INADDR_ANY and the port, as in
     * uecho_server.c (die_errno("bind")).
     */

    /*
     * TODO(06.16): MESSAGES times: recvfrom() one datagram into buf (the
     * sender's address is not needed: pass NULL, NULL), restarting on
     * EINTR (another failure: die_errno("recvfrom")), and print
     * "Message <i>: <n> bytes" with i from 1 and n what recvfrom()
     * returned (never strlen(): a datagram may hold NUL bytes).
     */
    (void)i;
    (void)buf;
    (void)my_addr;

    /* TODO(06.17): close the socket (die_errno("close")). */
    return 0;
}
