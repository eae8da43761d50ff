/*
 * hello_client.c - the smallest useful TCP client (IPv4 only, AF_INET).
 *
 * Connects to a server, reads everything it sends until it closes the
 * connection, and prints it as "Message from server: <bytes>".
 *
 * Usage: hello_client <IP> <port>
 * Partner: hello_server.c (sends "Hello World!" and closes)
 * Exercise: 01_hello, program 2 of 2
 */

#include <arpa/inet.h>   /* htons(), inet_pton() */
#include <errno.h>       /* errno, EINTR */
#include <netinet/in.h>  /* struct sockaddr_in, in_port_t */
#include <stdio.h>       /* printf(), fprintf(), fwrite(), perror() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset(), memcpy() */
#include <sys/socket.h>  /* socket(), connect() */
#include <unistd.h>      /* read(), close() */

#define BUF_SIZE 1024    /* the longest greeting we keep */

/* Print "<what>: <reason errno gives>" on stderr, then exit with status 1. */
static void die_errno(const char *what)
{
    perror(what);
    exit(1);
}

/*
 * Convert a decimal port number ("1" to "65535") into *port.  Returns 0 on
 * success, -1 if text is empty, holds anything but the digits 0-9, or is out
 * of range.  We never use atoi(): it turns "abc" into 0 and "80x" into 80
 * without complaint.
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

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    in_port_t port;
    int sock_fd, rc;
    char message[BUF_SIZE];     /* what we keep of the greeting */
    char chunk[BUF_SIZE];       /* what one read() returned */
    size_t used = 0;            /* bytes of message filled so far */
    int truncated = 0;

    if (argc != 3) {
        fprintf(stderr, "Usage: hello_client <IP> <port>\n");
        return 1;
    }
    if (parse_port(argv[2], &port) == -1) {
        fprintf(stderr, "hello_client: invalid port '%s' (expected 1-65535)\n",
                argv[2]);
        return 1;
    }

    /*
     * inet_pton() turns the dotted text "127.0.0.1" into the 4-byte address
     * in network byte order.  It has three outcomes: 1 (done), 0 (the text
     * is not an IPv4 address) and -1 (the address family is not supported).
     */
    memset(&server_addr, 0, sizeof server_addr);
    server_addr.sin_family = AF_INET;
    server_addr.sin_port = htons(port);
    rc = inet_pton(AF_INET, argv[1], &server_addr.sin_addr);
    if (rc == -1)
        die_errno("inet_pton");
    if (rc == 0) {
        fprintf(stderr, "hello_client: invalid IPv4 address '%s'\n", argv[1]);
        return 1;
    }

    sock_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (sock_fd == -1)
        die_errno("socket");

    /*
     * connect() performs the three-way handshake.  A client needs no
     * bind(): the kernel picks our address and a free port here.  If nobody
     * listens on that port, it fails with ECONNREFUSED.
     */
    if (connect(sock_fd, (struct sockaddr *)&server_addr,
                sizeof server_addr) == -1)
        die_errno("connect");

    /*
     * TCP is a byte stream: the greeting may arrive in one read() or in
     * several pieces, and nothing marks where it ends except the server
     * closing the connection, which read() reports by returning 0.  So we
     * read until then.  read() has three outcomes: > 0 bytes, 0 for end of
     * stream, -1 for an error (EINTR only means a signal interrupted it).
     */
    for (;;) {
        ssize_t n = read(sock_fd, chunk, sizeof chunk);
        size_t keep;

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            die_errno("read");
        if (n == 0)
            break;

        /* Keep what still fits; read and drop the rest, up to the end. */
        keep = sizeof message - used;
        if ((size_t)n < keep)
            keep = (size_t)n;
        else if ((size_t)n > keep)
            truncated = 1;
        memcpy(message + used, chunk, keep);
        used += keep;
    }

    if (close(sock_fd) == -1)
        die_errno("close");

    if (truncated)
        fprintf(stderr, "hello_client: message longer than %d bytes, "
                "only the first %d are shown\n", BUF_SIZE, BUF_SIZE);

    /*
     * The bytes are not a C string (no terminating NUL), so we print them
     * with fwrite() and an explicit length.
     */
    printf("Message from server: ");
    fwrite(message, 1, used, stdout);
    printf("\n");
    return 0;
}
