/*
 * echo_mpclient.c - the split echo client (IPv4 only, AF_INET).
 *
 * Connects, then forks: the child sends standard input to the server line
 * by line (each line with its newline), without waiting for any echo; the
 * parent copies every byte the server sends to standard output, unchanged.
 * A line "q" or "Q", or the end of input, makes the writer shutdown(SHUT_WR)
 * the socket: the server sees the end of stream, sends the rest of the
 * echo and closes; the reader prints it all, waits for the writer, exits 0.
 *
 * Usage: echo_mpclient <IP> <port>
 * Partner: echo_mpserv.c
 * Exercise: 10_multiprocess, program 2 of 2
 */

#include <arpa/inet.h>   /* inet_pton(), htons() */
#include <errno.h>       /* errno, EINTR */
#include <netinet/in.h>  /* struct sockaddr_in, in_port_t */
#include <stdio.h>       /* fgets(), fprintf(), perror() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset(), strcmp(), strlen() */
#include <sys/socket.h>  /* socket(), connect(), shutdown() */
#include <sys/types.h>   /* pid_t */
#include <sys/wait.h>    /* waitpid() */
#include <unistd.h>      /* fork(), read(), write(), close() */

#define BUF_SIZE 1024    /* bytes moved per read() */
#define MAX_LINE 1024    /* longest piece of a line fgets() reads at once */

/* Print "<what>: <reason errno gives>" on stderr, then exit with status 1. */
static void die_errno(const char *what)
{
    perror(what);
    exit(1);
}

/* As in echo_mpserv.c: "1" to "65535" only. */
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
 * TODO(10.7): read_some() and write_all(), as in echo_mpserv.c.
 */

/*
 * The writer (the child): every line of stdin to the server, as it comes,
 * newline included, until "q", "Q" or the end of input.  Then
 * shutdown(SHUT_WR): only the sending half ends, so the echo still on its
 * way can arrive.  close() would not do: the parent holds a copy of the
 * socket, and it would not even send the FIN.
 *
 * TODO(10.8): write
 *     static void write_routine(int sock_fd)
 * which should fgets() each line of stdin into a char
 * line[MAX_LINE + 2] and write_all() it to the server, newline and
 * all, without waiting for its echo.  Stop at "q" or "Q" (with or
 * without its newline) or at the end of input (ferror(stdin): an
 * error, die_errno("fgets")).  Then shutdown(sock_fd, SHUT_WR).
 */

/*
 * The reader (the parent): every byte from the server to stdout, as it
 * arrives, until the server closes (read() returns 0).  A partial read is
 * normal: an echo comes in whatever pieces TCP delivers.
 *
 * TODO(10.9): write
 *     static void read_routine(int sock_fd)
 * which, while read_some() returns > 0, writes those n bytes with write_all()
 * to STDOUT_FILENO; -1 is die_errno("read"); 0 is the server's close.
 */

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    in_port_t port;
    int sock_fd, status;
    pid_t pid;

    if (argc != 3) {
        fprintf(stderr, "Usage: echo_mpclient <IP> <port>\n");
        return 1;
    }
    if (parse_port(argv[2], &port) == -1) {
        fprintf(stderr, "echo_mpclient: invalid port '%s' (expected 1-65535)\n",
                argv[2]);
        return 1;
    }

    memset(&server_addr, 0, sizeof server_addr);
    server_addr.sin_family = AF_INET;
    server_addr.sin_port = htons(port);
    if (inet_pton(AF_INET, argv[1], &server_addr.sin_addr) != 1) {
        fprintf(stderr, "echo_mpclient: invalid IPv4 address '%s'\n", argv[1]);
        return 1;
    }

    sock_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (sock_fd == -1)
        die_errno("socket");
    if (connect(sock_fd, (struct sockaddr *)&server_addr,
                sizeof server_addr) == -1)
        die_errno("connect");

    /*
     * TODO(10.10): fork().  The child runs write_routine(), closes the
     * socket and exit(0)s; the parent runs read_routine(), closes the
     * socket, waitpid()s for the child and returns 0.
     */
    (void)pid;
    (void)status;
    return 0;
}
