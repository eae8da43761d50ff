/*
 * tcp_client.c - a TCP client that reads one byte per read() (IPv4 only).
 *
 * Connects to a server and reads what it sends one byte at a time, until
 * the server closes the connection.  Then it prints the bytes as
 * "Message from server: <bytes>" and how many read() calls returned data,
 * as "Function read call count: <n>".  However the server wrote its
 * message, in one write() or in ten, the count is the number of bytes: TCP
 * delivers a stream of bytes and keeps no trace of the writes.
 *
 * Usage: tcp_client <IP> <port>
 * Partner: chapter 01's hello_server.c, or any server that sends and closes
 * Exercise: 02_socket_types, program 1 of 3
 */

#include <arpa/inet.h>   /* htons(), inet_pton() */
#include <errno.h>       /* errno, EINTR */
#include <netinet/in.h>  /* struct sockaddr_in, in_port_t */
#include <stdio.h>       /* printf(), fprintf(), fwrite(), perror() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset() */
#include <sys/socket.h>  /* socket(), connect() */
#include <unistd.h>      /* read(), close() */

#define BUF_SIZE 1024    /* the bytes of the message we keep and print */

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

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    in_port_t port;
    int rc;
    /*
     * TODO(02.0): declare int sock_fd, char message[BUF_SIZE] (the first
     * BUF_SIZE bytes received), size_t used = 0 (bytes of message filled
     * so far) and unsigned long read_count = 0 (reads that returned a byte).
     */

    if (argc != 3) {
        fprintf(stderr, "Usage: tcp_client <IP> <port>\n");
        return 1;
    }
    if (parse_port(argv[2], &port) == -1) {
        fprintf(stderr, "tcp_client: invalid port '%s' (expected 1-65535)\n",
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
        fprintf(stderr, "tcp_client: invalid IPv4 address '%s'\n", argv[1]);
        return 1;
    }

    /*
     * TODO(02.1): create the socket with socket(PF_INET, SOCK_STREAM, 0)
     * (die_errno("socket") if it fails) and connect() it to server_addr
     * (die_errno("connect")).  Say in a comment what each of socket()'s
     * three arguments asks for, and why 0 is enough as the third.
     */

    /*
     * TODO(02.2): read ONE byte per read() until read() returns 0 (the
     * server has closed).  -1 with errno EINTR: read again, and do not
     * count it; any other -1: die_errno("read").  Each read that returned
     * a byte adds 1 to read_count, and the byte goes into message while
     * used < BUF_SIZE; once message is full keep reading and counting, but
     * drop the bytes (the textbook's 30-byte array had no such check).
     */

    /* TODO(02.3): close the socket (die_errno("close") if it fails). */

    /*
     * TODO(02.4): print "Message from server: ", the used bytes of message
     * (with fwrite(): they have no NUL), a newline, then the line
     * "Function read call count: <read_count>".
     */

    return 0;
}
