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
    int rc;

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

    /*
     * TODO(01.9): create an IPv4 TCP socket; on failure,
     * die_errno("socket").
     */

    /*
     * TODO(01.10): connect() it to server_addr (cast to struct sockaddr *).
     * No bind() is needed: the kernel picks our address and port.  When
     * nobody listens there, connect() fails (ECONNREFUSED): report it with
     * die_errno("connect"), which exits with status 1.
     */

    /*
     * TODO(01.11): read until the server closes the connection.  TCP is a
     * byte stream: the greeting may come in one piece or in several, and
     * only read() returning 0 tells you it is complete.  So loop: read()
     * into a chunk buffer; -1 with errno EINTR means "try again", any other
     * -1 is an error (die_errno("read")); 0 ends the loop; n > 0 bytes are
     * appended to a message buffer of BUF_SIZE bytes.  Never write past
     * that buffer: once it is full, keep reading but drop the extra bytes.
     */

    /* TODO(01.12): close the socket. */

    /*
     * TODO(01.13): print "Message from server: ", the received bytes, and a
     * newline.  The bytes have no terminating NUL, so printf("%s") cannot
     * print them: write them with fwrite() and their count.
     */

    return 0;
}
