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

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

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
    static char buf[BUF_SIZE];   /* static: 64 KiB is a lot for the stack */
    struct sockaddr_in server_addr;
    struct sigaction sa;
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
     * No SA_RESTART: a signal must make the blocked recvfrom() return -1
     * with EINTR, so that the loop sees the flag and stops.
     */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    if (sigaction(SIGINT, &sa, NULL) == -1 || sigaction(SIGTERM, &sa, NULL) == -1)
        die_errno("sigaction");

    /* SOCK_DGRAM: UDP.  There is no listen() and no accept(). */
    sock_fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (sock_fd == -1)
        die_errno("socket");

    /*
     * No SO_REUSEADDR here.  On a TCP server it only lets us bind again
     * while old connections linger in TIME_WAIT; on UDP, which has no
     * TIME_WAIT, it would let a second socket that sets it too share the
     * port and take part of our datagrams.
     */
    memset(&server_addr, 0, sizeof server_addr);
    server_addr.sin_family = AF_INET;
    server_addr.sin_addr.s_addr = htonl(INADDR_ANY);
    server_addr.sin_port = htons(port);
    if (bind(sock_fd, (struct sockaddr *)&server_addr, sizeof server_addr) == -1)
        die_errno("bind");

    while (!stop_requested) {
        struct sockaddr_in client_addr;
        socklen_t addr_len = sizeof client_addr;
        ssize_t n;

        /*
         * One recvfrom() returns one whole datagram (0 bytes is a datagram
         * too, not an end of file: UDP has no connection to end) and says
         * who sent it.
         */
        n = recvfrom(sock_fd, buf, sizeof buf, 0,
                     (struct sockaddr *)&client_addr, &addr_len);
        if (n == -1) {
            if (errno == EINTR)
                continue;        /* a signal: the loop looks at the flag */
            die_errno("recvfrom");
        }

        /*
         * Send it back to whoever sent it: each datagram carries its own
         * return address, and the next one may come from another client.
         * A datagram is sent whole or not at all, so there is nothing to
         * loop over, except a signal that interrupts the call.
         */
        while (sendto(sock_fd, buf, (size_t)n, 0,
                      (struct sockaddr *)&client_addr, addr_len) == -1) {
            if (errno != EINTR) {
                perror("sendto");  /* that client is unreachable: go on */
                break;
            }
            if (stop_requested)
                break;
        }
    }

    if (close(sock_fd) == -1)
        die_errno("close");
    return 0;
}
