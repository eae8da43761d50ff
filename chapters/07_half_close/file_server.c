/*
 * file_server.c - send a whole file, then half-close (IPv4 only, AF_INET).
 *
 * Opens the file, accepts one client, sends it every byte of the file,
 * then shuts down only its sending half (shutdown(SHUT_WR)): the client
 * reads the end of the stream, while this side can still read.  It then
 * reads the client's reply until the client closes, and prints it as
 * "Message from client: <bytes>".
 *
 * Usage: file_server <port> <file>
 * Partner: file_client.c (stores the file, replies "Thank you")
 * Exercise: 07_half_close, program 1 of 2
 */

#include <arpa/inet.h>   /* htonl(), htons() */
#include <errno.h>       /* errno, EINTR */
#include <netinet/in.h>  /* struct sockaddr_in, INADDR_ANY, in_port_t */
#include <signal.h>      /* signal(), SIGPIPE, SIG_IGN */
#include <stdio.h>       /* fopen(), fread(), ferror(), printf(), perror() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset(), memcpy() */
#include <sys/socket.h>  /* socket(), bind(), listen(), accept(), shutdown() */
#include <unistd.h>      /* read(), write(), close() */

#define BACKLOG   5
#define FILE_BUF  4096   /* bytes of the file moved per fread() */
#define REPLY_MAX 1024   /* the longest reply we keep */

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
 * TODO(07.1): write
 *     static int write_all(int fd, const char *buf, size_t len)
 * as in chapter 04: write() until all len bytes are out (it may write
 * fewer than asked), starting again on EINTR; return 0, or -1 on an error.
 */

/*
 * Send the whole file.  fread() returns how many bytes it read, which is
 * the only length we may use: the file may hold NUL bytes, so strlen()
 * would cut a chunk short.  fread() returning 0 means the end of the file
 * or an error; ferror() tells which.
 */
static void send_file(FILE *fp, const char *path, int conn_fd)
{
    /*
     * TODO(07.2): loop: n = fread(buf, 1, sizeof buf, fp) into a char
     * buf[FILE_BUF]; while n > 0, write_all() those n bytes to conn_fd
     * (die_errno("write") if it fails).  After the loop, ferror(fp) says
     * whether it stopped on an error: then a message naming path, exit(1).
     */
    (void)fp;
    (void)path;
    (void)conn_fd;
}

/*
 * Read until the client closes (read() returns 0), keeping the first
 * REPLY_MAX bytes in reply.  Returns how many were kept.  Once reply is
 * full we keep reading into chunk and drop the rest: stopping early would
 * close the socket with bytes unread, and the kernel would reset the
 * connection.
 */
static size_t read_reply(int conn_fd, char *reply)
{
    /*
     * TODO(07.4): read() into a char chunk[REPLY_MAX] until it returns 0;
     * -1 with errno EINTR: read again; any other -1: die_errno("read").
     * Copy into reply what still fits (REPLY_MAX bytes at most) and count
     * them; drop the rest but keep reading to the end of the stream.
     * Return the count.
     */
    (void)conn_fd;
    (void)reply;
    return 0;
}

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    in_port_t port;
    FILE *fp;
    int listen_fd, conn_fd;
    int reuse = 1;
    char reply[REPLY_MAX];
    size_t reply_len;

    if (argc != 3) {
        fprintf(stderr, "Usage: file_server <port> <file>\n");
        return 1;
    }
    if (parse_port(argv[1], &port) == -1) {
        fprintf(stderr, "file_server: invalid port '%s' (expected 1-65535)\n",
                argv[1]);
        return 1;
    }

    /*
     * Open the file before any socket exists: if it cannot be read there
     * is nothing to serve, and a client should not be left connected to a
     * server that then gives up.  "rb": the bytes as they are.
     */
    fp = fopen(argv[2], "rb");
    if (fp == NULL) {
        perror(argv[2]);
        return 1;
    }

    /*
     * Writing to a client that has reset the connection raises SIGPIPE,
     * which would kill us without a word; ignored, write() fails with
     * EPIPE and we say so.
     */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        die_errno("signal");

    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd == -1)
        die_errno("socket");

    /* Restart at once on a port whose old connections sit in TIME_WAIT. */
    if (setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR,
                   &reuse, sizeof reuse) == -1)
        die_errno("setsockopt");

    memset(&server_addr, 0, sizeof server_addr);
    server_addr.sin_family = AF_INET;
    server_addr.sin_addr.s_addr = htonl(INADDR_ANY);
    server_addr.sin_port = htons(port);
    if (bind(listen_fd, (struct sockaddr *)&server_addr,
             sizeof server_addr) == -1)
        die_errno("bind");
    if (listen(listen_fd, BACKLOG) == -1)
        die_errno("listen");

    do
        conn_fd = accept(listen_fd, NULL, NULL);
    while (conn_fd == -1 && errno == EINTR);
    if (conn_fd == -1)
        die_errno("accept");

    send_file(fp, argv[2], conn_fd);
    if (fclose(fp) == EOF)
        die_errno("fclose");

    /*
     * The half-close.  shutdown(SHUT_WR) sends our FIN: the client's read()
     * returns 0 once it has read the whole file, which is how it knows the
     * file is complete.  Our receiving half stays open, so the reply it
     * sends afterwards still reaches us.  close() here instead would end
     * both halves: the reply would meet a closed socket and be lost (the
     * kernel answers it with a reset).
     */
    /* TODO(07.3): shutdown(conn_fd, SHUT_WR), die_errno("shutdown") on failure. */

    reply_len = read_reply(conn_fd, reply);

    /* The reply is bytes, not a C string: print exactly reply_len of them. */
    printf("Message from client: ");
    fwrite(reply, 1, reply_len, stdout);
    printf("\n");

    if (close(conn_fd) == -1)
        die_errno("close");
    if (close(listen_fd) == -1)
        die_errno("close");
    return 0;
}
