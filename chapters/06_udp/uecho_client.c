/*
 * uecho_client.c - an interactive UDP echo client (IPv4 only, AF_INET).
 *
 * Reads lines from standard input and sends each one (without its newline)
 * to the server as one datagram, then waits up to a second for the echo and
 * prints it as "Message from server: ...".  UDP may lose a datagram in
 * either direction, so without an echo in time it sends the line again, three
 * sends in all, and then gives up ("no reply", exit status 1).  Only a
 * datagram from the server's address and port that holds exactly the line
 * counts as its echo; anything else is ignored.  A line "q" or "Q", or the
 * end of input, ends the session.
 *
 * Usage: uecho_client <IP> <port>
 * Partner: uecho_server.c
 * Exercise: 06_udp, program 2 of 5
 */

#include <arpa/inet.h>   /* htons(), inet_pton() */
#include <errno.h>       /* errno, EINTR */
#include <netinet/in.h>  /* struct sockaddr_in, in_port_t */
#include <poll.h>        /* poll(), struct pollfd, POLLIN */
#include <stdio.h>       /* printf(), fgets(), fflush(), fwrite(), perror() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset(), memcmp(), strcmp(), strcspn(), strlen() */
#include <sys/socket.h>  /* socket(), sendto(), recvfrom() */
#include <time.h>        /* clock_gettime(), CLOCK_MONOTONIC */
#include <unistd.h>      /* close() */

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
 * TODO(06.5): write
 *     static long long now_ms(void)
 * (milliseconds from clock_gettime(CLOCK_MONOTONIC, ...), a clock that
 * never jumps) and
 *     static int wait_readable(int fd, long long deadline)
 * which poll()s fd for POLLIN until the clock reaches deadline (in now_ms()
 * terms): 1 if a datagram can be read, 0 when the time is up.  poll()
 * interrupted by a signal (EINTR): poll again for the time left.
 */

/*
 * TODO(06.6): write
 *     static int send_and_wait(int sock_fd,
 *                              const struct sockaddr_in *server_addr,
 *                              const char *line, size_t len, char *reply)
 * which, up to TRIES times: sendto() the line to the server (EINTR: send
 * again; another error: die_errno("sendto")), then waits WAIT_MS for its
 * echo, one deadline per send.  Each datagram that arrives in time is read
 * with recvfrom() into reply (MAX_LINE + 1 bytes), and it is the echo only
 * if it came from the server's address AND port, and holds exactly the len
 * bytes of the line (memcmp): anything else is ignored, and the wait goes
 * on.  Returns 0 when the echo came, -1 after TRIES sends without one.
 */

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    in_port_t port;
    int sock_fd, rc;
    char line[MAX_LINE + 2];     /* the line, its newline and a NUL */
    char reply[MAX_LINE + 1];    /* one more byte than the longest line */

    if (argc != 3) {
        fprintf(stderr, "Usage: uecho_client <IP> <port>\n");
        return 1;
    }
    if (parse_port(argv[2], &port) == -1) {
        fprintf(stderr, "uecho_client: invalid port '%s' (expected 1-65535)\n",
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
        fprintf(stderr, "uecho_client: invalid IPv4 address '%s'\n", argv[1]);
        return 1;
    }

    /*
     * TODO(06.7): create the UDP socket (AF_INET, SOCK_DGRAM; a failure:
     * die_errno("socket")).  No bind() and no connect(): the first
     * sendto() gives the socket an address and a free ephemeral port.
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
         * TODO(06.8): send_and_wait() the line; -1: print a message with
         * "no reply" in it on stderr and exit(1).  Otherwise print
         * "Message from server: ", the len bytes of reply (fwrite) and a
         * newline.
         */
        (void)len;
        (void)reply;
    }

    /* TODO(06.9): close the socket (die_errno("close")). */
    (void)sock_fd;
    return 0;
}
