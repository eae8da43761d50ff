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

/*
 * TODO(04.7): the same two helpers as in echo_server.c: read_some()
 * (read(), retried on EINTR) and write_all() (write until all bytes are
 * out, retry on EINTR, return 0 or -1).
 */

/*
 * TODO(04.8): write
 *     static void read_exactly(int fd, char *buf, size_t len)
 * which reads until exactly len bytes have arrived.  TCP keeps no message
 * boundaries: the echo of one write() may come back in several pieces, so
 * one read() is not enough.  If read returns 0 before len bytes came, the
 * server has closed: print a message on stderr (for example
 * "echo_client: server closed the connection early") and exit(1); do not
 * loop again, read() would return 0 forever.  A read error:
 * die_errno("read").
 */

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    in_port_t port;
    int rc;

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

    /*
     * TODO(04.9): create an IPv4 TCP socket and connect() it to
     * server_addr, reporting failures with die_errno("socket") and
     * die_errno("connect").  Then print a line saying "Connected".
     */

    /*
     * TODO(04.10): the dialogue loop.  Each round:
     *  - print the prompt "Input message(Q to quit): " (no newline) and
     *    fflush(stdout), or stdio keeps it back;
     *  - read a line with fgets() into a buffer of MAX_LINE + 2 bytes (the
     *    line, its newline, the NUL).  fgets() returning NULL is the end of
     *    input: leave the loop (ferror(stdin) tells you if it was an error);
     *  - remove the newline that fgets() keeps;
     *  - a line that is exactly "q" or "Q" leaves the loop;
     *  - send the line WITHOUT its newline, using write_all();
     *  - read_exactly() as many bytes as you sent, into a second buffer;
     *  - print "Message from server: ", those bytes (fwrite() with their
     *    count) and a newline.
     */

    /* TODO(04.11): close the socket. */

    return 0;
}
