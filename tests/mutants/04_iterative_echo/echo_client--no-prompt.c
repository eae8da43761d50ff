/* MUTANT of solutions/04_iterative_echo/echo_client.c
 * mistake: never prints the prompt before reading a line
 * clause: prints the prompt `Input message(Q to quit): ` before each line
 * caught-by: test_echo_client_dialogue
 */
/*
 * echo_client.c - an interactive TCP echo client (IPv4 only, AF_INET).
 *
 * Connects to an echo server, then reads lines from standard input and,
 * for each one, sends it (without its newline), waits until the server has
 * sent back as many bytes, and prints them as "Message from server: ...".
 * A line "q" or "Q", or the end of input, ends the session.
 *
 * Usage: echo_client <IP> <port>
 * Partner: echo_server.c
 * Exercise: 04_iterative_echo, program 2 of 3
 */

#include <arpa/inet.h>   /* htons(), inet_pton() */
#include <errno.h>       /* errno, EINTR */
#include <netinet/in.h>  /* struct sockaddr_in, in_port_t */
#include <signal.h>      /* signal(), SIGPIPE, SIG_IGN */
#include <stdio.h>       /* printf(), fgets(), fflush(), fwrite(), perror() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset(), strcmp(), strcspn() */
#include <sys/socket.h>  /* socket(), connect() */
#include <unistd.h>      /* read(), write(), close() */

#define MAX_LINE 1023    /* longest line sent as one message (no newline) */

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

/* read() that starts again when a signal interrupts it before any data. */
static ssize_t read_some(int fd, char *buf, size_t len)
{
    ssize_t n;

    do
        n = read(fd, buf, len);
    while (n == -1 && errno == EINTR);
    return n;
}

/*
 * Write all len bytes of buf to fd: write() may write fewer bytes than
 * asked.  Returns 0 on success, -1 with errno set on error.
 */
static int write_all(int fd, const char *buf, size_t len)
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

/*
 * Read exactly len bytes into buf, however many read() calls that takes.
 * TCP keeps no message boundaries: one write() by the server may reach us
 * as several pieces, so a single read() may return only part of the echo.
 * Exits with a message if the server closes first or read() fails.
 */
static void read_exactly(int fd, char *buf, size_t len)
{
    size_t received = 0;

    while (received < len) {
        ssize_t n = read_some(fd, buf + received, len - received);

        if (n == -1)
            die_errno("read");
        if (n == 0) {
            fprintf(stderr, "echo_client: server closed the connection early "
                    "(%zu of %zu bytes came back)\n", received, len);
            exit(1);
        }
        received += (size_t)n;
    }
}

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    in_port_t port;
    int sock_fd, rc;
    char line[MAX_LINE + 2];     /* the line, its newline and a NUL */
    char reply[MAX_LINE + 1];    /* what the server sends back */

    if (argc != 3) {
        fprintf(stderr, "Usage: echo_client <IP> <port>\n");
        return 1;
    }
    if (parse_port(argv[2], &port) == -1) {
        fprintf(stderr, "echo_client: invalid port '%s' (expected 1-65535)\n",
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
        fprintf(stderr, "echo_client: invalid IPv4 address '%s'\n", argv[1]);
        return 1;
    }

    /*
     * If the server vanishes, our next write() would raise SIGPIPE and kill
     * us silently.  Ignored, it becomes an EPIPE error that we report.
     */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        die_errno("signal");

    sock_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (sock_fd == -1)
        die_errno("socket");

    /*
     * connect() returns once the server's kernel has completed the
     * handshake and queued us.  The server may still be busy with another
     * client: then our messages wait, unanswered, until it accepts us.
     */
    if (connect(sock_fd, (struct sockaddr *)&server_addr,
                sizeof server_addr) == -1)
        die_errno("connect");
    printf("Connected to %s port %u\n", argv[1], (unsigned)port);

    for (;;) {
        size_t len;

        /* The prompt has no newline, so stdio would hold it back: flush. */
        /* (the prompt is forgotten) */
        fflush(stdout);

        /*
         * fgets() returns NULL at the end of input (or on an error): without
         * this check we would send the previous line again, forever.
         */
        if (fgets(line, sizeof line, stdin) == NULL) {
            if (ferror(stdin))
                die_errno("fgets");
            break;
        }

        /*
         * fgets() keeps the newline; the message is the line without it.
         * (A line longer than the buffer comes back from fgets() in pieces,
         * and each piece travels as a message of its own.)
         */
        line[strcspn(line, "\n")] = '\0';
        if (strcmp(line, "q") == 0 || strcmp(line, "Q") == 0)
            break;

        len = strlen(line);
        if (write_all(sock_fd, line, len) == -1)
            die_errno("write");

        /* The echo is complete when exactly len bytes have come back. */
        read_exactly(sock_fd, reply, len);

        printf("Message from server: ");
        fwrite(reply, 1, len, stdout);
        printf("\n");
    }

    if (close(sock_fd) == -1)
        die_errno("close");
    return 0;
}
