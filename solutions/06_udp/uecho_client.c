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

/* Milliseconds on a clock that never jumps (unlike the time of day). */
static long long now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
        die_errno("clock_gettime");
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait until a datagram can be read or the clock passes deadline (in
 * now_ms() terms).  Returns 1 if one is there, 0 when time is up.
 */
static int wait_readable(int fd, long long deadline)
{
    for (;;) {
        struct pollfd pfd;
        long long left = deadline - now_ms();
        int rc;

        if (left <= 0)
            return 0;
        pfd.fd = fd;
        pfd.events = POLLIN;
        rc = poll(&pfd, 1, (int)left);
        if (rc == -1) {
            if (errno == EINTR)
                continue;
            die_errno("poll");
        }
        return rc > 0;
    }
}

/*
 * Send line (len bytes) to the server and wait for its echo, TRIES sends
 * at most.  Returns 0 once the echo has come back (the reply buffer then
 * holds it), -1 if it never did.
 */
static int send_and_wait(int sock_fd, const struct sockaddr_in *server_addr,
                         const char *line, size_t len, char *reply)
{
    int attempt;

    for (attempt = 0; attempt < TRIES; attempt++) {
        long long deadline;

        /* A datagram goes whole or not at all: no loop, except for EINTR. */
        while (sendto(sock_fd, line, len, 0, (const struct sockaddr *)server_addr,
                      sizeof *server_addr) == -1)
            if (errno != EINTR)
                die_errno("sendto");

        /*
         * The deadline is set once per send: datagrams that are not the
         * echo do not buy more time.
         */
        deadline = now_ms() + WAIT_MS;
        while (wait_readable(sock_fd, deadline)) {
            struct sockaddr_in from;
            socklen_t from_len = sizeof from;
            ssize_t n;

            /*
             * reply has room for MAX_LINE + 1 bytes: a longer datagram is
             * cut there, which still tells it apart from our line.
             */
            n = recvfrom(sock_fd, reply, MAX_LINE + 1, 0,
                         (struct sockaddr *)&from, &from_len);
            if (n == -1) {
                if (errno == EINTR)
                    continue;
                die_errno("recvfrom");
            }

            /*
             * Anyone may send to our port.  Only the server's address and
             * port count, and only the echo of this line: a late copy of
             * an earlier line's echo (sent again, answered twice) is not.
             */
            if (from.sin_addr.s_addr != server_addr->sin_addr.s_addr
                || from.sin_port != server_addr->sin_port)
                continue;
            if ((size_t)n == len && memcmp(reply, line, len) == 0)
                return 0;
        }
    }
    return -1;
}

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
     * No bind() and no connect(): the first sendto() gives the socket an
     * address (the outgoing interface's) and a free ephemeral port, which
     * it keeps from then on.
     */
    sock_fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (sock_fd == -1)
        die_errno("socket");

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
        if (send_and_wait(sock_fd, &server_addr, line, len, reply) == -1) {
            fprintf(stderr, "uecho_client: no reply from %s port %u after %d sends\n",
                    argv[1], (unsigned)port, TRIES);
            exit(1);
        }
        printf("Message from server: ");
        fwrite(reply, 1, len, stdout);
        printf("\n");
    }

    if (close(sock_fd) == -1)
        die_errno("close");
    return 0;
}
