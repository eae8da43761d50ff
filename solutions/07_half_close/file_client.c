/*
 * file_client.c - receive a file until the end of the stream, then reply
 * (IPv4 only, AF_INET).
 *
 * Creates the output file, connects to the server, writes every byte that
 * arrives into the file until the server shuts down its sending half
 * (read() returns 0), prints "Received file data", and only then sends the
 * 9 bytes "Thank you" over the half that is still open.
 *
 * Usage: file_client <IP> <port> <outfile>
 * Partner: file_server.c (sends a file, shutdown(SHUT_WR), reads the reply)
 * Exercise: 07_half_close, program 2 of 2
 */

#include <arpa/inet.h>   /* htons(), inet_pton() */
#include <errno.h>       /* errno, EINTR */
#include <netinet/in.h>  /* struct sockaddr_in, in_port_t */
#include <stdio.h>       /* fopen(), fwrite(), fclose(), printf(), perror() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset() */
#include <sys/socket.h>  /* socket(), connect() */
#include <unistd.h>      /* read(), write(), close() */

#define BUF_SIZE 4096    /* bytes moved per read() */

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
 * Write all len bytes of buf to fd: write() may write fewer bytes than
 * asked, and a signal may interrupt it before it writes any.  Returns 0 on
 * success, -1 with errno set on error.
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
 * Copy everything the server sends into fp until the end of the stream.
 * read() has three outcomes, and each needs its own branch: > 0 is a count
 * of bytes to store, 0 is the end of the stream (the server's FIN), -1 is
 * an error, or EINTR (a signal came before any data: read again).  The
 * textbook's loop, while ((n = read(...)) != 0), hands -1 to fwrite() as a
 * count.
 */
static void receive_file(int sock_fd, FILE *fp, const char *path)
{
    char buf[BUF_SIZE];

    for (;;) {
        ssize_t n = read(sock_fd, buf, sizeof buf);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            die_errno("read");
        if (n == 0)
            return;
        if (fwrite(buf, 1, (size_t)n, fp) != (size_t)n) {
            perror(path);
            exit(1);
        }
    }
}

int main(int argc, char *argv[])
{
    /*
     * The reply as bytes on the wire: 9 of them.  sizeof on the literal
     * would be 10, the last one the NUL that ends a C string in memory,
     * which is not part of the message.
     */
    static const char thanks[] = "Thank you";
    struct sockaddr_in server_addr;
    in_port_t port;
    FILE *fp;
    int sock_fd, rc;

    if (argc != 4) {
        fprintf(stderr, "Usage: file_client <IP> <port> <outfile>\n");
        return 1;
    }
    if (parse_port(argv[2], &port) == -1) {
        fprintf(stderr, "file_client: invalid port '%s' (expected 1-65535)\n",
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
        fprintf(stderr, "file_client: invalid IPv4 address '%s'\n", argv[1]);
        return 1;
    }

    /*
     * Create (or empty) the output file before connecting: if we cannot
     * store the file, there is no point in asking for it.  "wb": the bytes
     * as they come, no translation.
     */
    fp = fopen(argv[3], "wb");
    if (fp == NULL) {
        perror(argv[3]);
        return 1;
    }

    sock_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (sock_fd == -1)
        die_errno("socket");
    if (connect(sock_fd, (struct sockaddr *)&server_addr,
                sizeof server_addr) == -1)
        die_errno("connect");

    receive_file(sock_fd, fp, argv[3]);

    /* fclose() writes out what stdio still holds: check it too. */
    if (fclose(fp) == EOF) {
        perror(argv[3]);
        return 1;
    }
    printf("Received file data\n");

    /*
     * The server has closed only its sending half: ours is still open, and
     * the server is waiting in read() for what we send now.
     */
    if (write_all(sock_fd, thanks, strlen(thanks)) == -1)
        die_errno("write");

    /* Our FIN: the server's read() returns 0 and it can finish. */
    if (close(sock_fd) == -1)
        die_errno("close");
    return 0;
}
