/*
 * uecho_server.c - a UDP echo server (IPv4 only, AF_INET).
 *
 * Binds a UDP socket to the port given on the command line, on every local
 * address, and sends every datagram it receives straight back, as one
 * datagram, to the address and port it came from.  A datagram may be empty
 * or as large as UDP over IPv4 allows (65507 bytes), and may hold any bytes.
 * Runs until SIGINT or SIGTERM, then exits with status 0.
 *
 * Usage: uecho_server <port>
 * Partner: uecho_client.c, uecho_con_client.c
 * Exercise: 06_udp, program 1 of 5
 */

#include <arpa/inet.h>   /* htonl(), htons() */
#include <errno.h>       /* errno, EINTR */
#include <netinet/in.h>  /* struct sockaddr_in, INADDR_ANY, in_port_t */
#include <signal.h>      /* sigaction(), sig_atomic_t, SIGINT, SIGTERM */
#include <stdio.h>       /* fprintf(), perror() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset() */
#include <sys/socket.h>  /* socket(), bind(), recvfrom(), sendto() */
#include <unistd.h>      /* close() */

/*
 * The largest UDP payload over IPv4: an IP packet is at most 65535 bytes,
 * less 20 for the IP header and 8 for the UDP header.  recvfrom() cuts a
 * datagram that does not fit the buffer and throws the rest away, so the
 * buffer must hold the largest one (the textbook's 30 bytes would not).
 */
#define BUF_SIZE 65507

/*
 * TODO(06.1): a flag and a signal handler, as in chapter 04's
 * hello_server_iterative.c: a static volatile sig_atomic_t stop_requested,
 * 0 at first, and static void on_signal(int sig), which only sets it to 1.
 */

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
    in_port_t port;
    int sock_fd;

    if (argc != 2) {
        fprintf(stderr, "Usage: uecho_server <port>\n");
        return 1;
    }
    if (parse_port(argv[1], &port) == -1) {
        fprintf(stderr, "uecho_server: invalid port '%s' (expected 1-65535)\n",
                argv[1]);
        return 1;
    }

    /*
     * TODO(06.2): install on_signal() for SIGINT and SIGTERM with
     * sigaction() (zero the struct, sigemptyset() its sa_mask), sa_flags 0:
     * WITHOUT SA_RESTART, so that a signal makes the blocked recvfrom()
     * return -1 with errno EINTR and the loop can look at the flag.  A
     * failure: die_errno("sigaction").
     */

    /* SOCK_DGRAM: UDP.  There is no listen() and no accept(). */
    sock_fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (sock_fd == -1)
        die_errno("socket");

    /*
     * TODO(06.3): bind() the socket to INADDR_ANY and the port (a struct
     * sockaddr_in, zeroed first; htonl, htons).  Do NOT set SO_REUSEADDR:
     * on UDP it would let another socket that sets it too share the port
     * (see the notes).  A failure: die_errno("bind").
     */

    /*
     * TODO(06.4): the echo loop, while the flag is 0:
     *  - recvfrom() one datagram into buf (a static array of BUF_SIZE
     *    bytes), with a struct sockaddr_in and its socklen_t length for
     *    the sender's address.  -1 with EINTR: go round (the flag may be
     *    set); any other -1: die_errno("recvfrom").  0 bytes is a real,
     *    empty datagram, not an end: echo it too;
     *  - sendto() the same n bytes back to that address and length
     *    (restart on EINTR; another failure: perror("sendto") and go on).
     * After the loop close() the socket (die_errno("close")).
     */

    (void)port;
    return 0;
}
