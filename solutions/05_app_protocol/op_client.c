/*
 * op_client.c - the calculator client (IPv4 only, AF_INET).
 *
 * Connects to op_server, asks for an operand count, the operands and an
 * operator, sends them as one request (1 byte count, 4 bytes per operand in
 * network byte order, 1 operator byte), reads the 4-byte result and prints
 * it as "Operation result: <n>".  Any invalid input, or the end of input,
 * ends the program with status 1 before a single byte is sent.
 *
 * Usage: op_client <IP> <port>
 * Partner: op_server.c
 * Exercise: 05_app_protocol, program 2 of 2
 */

#include <arpa/inet.h>   /* htonl(), htons(), ntohl(), inet_pton() */
#include <errno.h>       /* errno, EINTR, ERANGE */
#include <netinet/in.h>  /* struct sockaddr_in, in_port_t */
#include <signal.h>      /* signal(), SIGPIPE, SIG_IGN */
#include <stdint.h>      /* int32_t, uint32_t, INT32_MIN, INT32_MAX */
#include <stdio.h>       /* printf(), snprintf(), scanf(), perror() */
#include <stdlib.h>      /* exit(), strtol(), strtoul() */
#include <string.h>      /* memcpy(), memset(), strcmp() */
#include <sys/socket.h>  /* socket(), connect() */
#include <unistd.h>      /* read(), write(), close() */

#define OPERAND_SIZE 4   /* bytes per operand, and of the result */
#define MAX_OPERANDS 255 /* the count is one unsigned byte */
/* count byte, operands, operator byte */
#define MAX_REQUEST (1 + MAX_OPERANDS * OPERAND_SIZE + 1)
#define TOKEN_MAX 63     /* longest input token we look at */

/* Print "<what>: <reason errno gives>" on stderr, then exit with status 1. */
static void die_errno(const char *what)
{
    perror(what);
    exit(1);
}

/* Print "op_client: <why>" on stderr, then exit with status 1. */
static void die(const char *why)
{
    fprintf(stderr, "op_client: %s\n", why);
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
 * Write all len bytes of buf to fd: write() may write fewer bytes than
 * asked.  Returns 0 on success, -1 with errno set on error.
 */
static int write_all(int fd, const unsigned char *buf, size_t len)
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
 * Read exactly len bytes into buf: the 4 bytes of the result may arrive in
 * several pieces.  Exits with a message if the server closes first or
 * read() fails.
 */
static void read_exactly(int fd, unsigned char *buf, size_t len)
{
    size_t received = 0;

    while (received < len) {
        ssize_t n = read(fd, buf + received, len - received);

        if (n == -1) {
            if (errno == EINTR)     /* a signal came before any data */
                continue;
            die_errno("read");
        }
        if (n == 0)
            die("server closed the connection before the whole result came");
        received += (size_t)n;
    }
}

/*
 * Print the prompt, then read the next whitespace-separated word of stdin
 * into token (TOKEN_MAX + 1 bytes).  The end of input is an error: the
 * request would be incomplete.
 */
static void next_token(const char *prompt, char *token)
{
    printf("%s", prompt);
    fflush(stdout);     /* the prompt has no newline: stdio would hold it */
    if (scanf("%63s", token) != 1)
        die("end of input before the request was complete");
}

/*
 * Convert token to a long in [min, max]: all of it must be a decimal
 * number (an optional sign, then digits).  Returns 0 on success, -1 if not.
 */
static int parse_long(const char *token, long min, long max, long *value)
{
    char *end;

    errno = 0;
    *value = strtol(token, &end, 10);
    if (end == token || *end != '\0' || errno == ERANGE)
        return -1;
    return *value < min || *value > max ? -1 : 0;
}

/*
 * uint32_t to int32_t by value: the cast of a value above INT32_MAX is
 * implementation-defined in C, this is not.
 */
static int32_t to_signed(uint32_t bits)
{
    if (bits <= (uint32_t)INT32_MAX)
        return (int32_t)bits;
    return -(int32_t)(UINT32_MAX - bits) - 1;
}

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    in_port_t port;
    int sock_fd, rc;
    unsigned char request[MAX_REQUEST];
    unsigned char reply[OPERAND_SIZE];
    char token[TOKEN_MAX + 1];
    char prompt[32];
    long count, operand, i;
    size_t len;
    uint32_t bits;

    if (argc != 3) {
        fprintf(stderr, "Usage: op_client <IP> <port>\n");
        return 1;
    }
    if (parse_port(argv[2], &port) == -1) {
        fprintf(stderr, "op_client: invalid port '%s' (expected 1-65535)\n",
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
        fprintf(stderr, "op_client: invalid IPv4 address '%s'\n", argv[1]);
        return 1;
    }

    /* If the server vanishes, write() would raise SIGPIPE and kill us
     * silently.  Ignored, it becomes an EPIPE error that we report. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        die_errno("signal");

    /*
     * As in the textbook, connect first, then ask for the input.  Nothing
     * is written until the whole request has been read and checked, so a
     * bad input leaves the server with a connection that sends nothing.
     */
    sock_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (sock_fd == -1)
        die_errno("socket");
    if (connect(sock_fd, (struct sockaddr *)&server_addr,
                sizeof server_addr) == -1)
        die_errno("connect");
    printf("Connected to %s port %u\n", argv[1], (unsigned)port);

    /*
     * The count travels as one unsigned byte: 1 to 255.  A long holds it
     * while we check it; the byte we send is the checked value.
     */
    next_token("Operand count: ", token);
    if (parse_long(token, 1, MAX_OPERANDS, &count) == -1)
        die("the operand count must be a number from 1 to 255");
    request[0] = (unsigned char)count;
    len = 1;

    /*
     * Each operand in network byte order (big-endian), whatever this
     * machine's order is: htonl() of its bits.  memcpy(), since
     * request + len is not aligned for a uint32_t.
     */
    for (i = 1; i <= count; i++) {
        snprintf(prompt, sizeof prompt, "Operand %ld: ", i);
        next_token(prompt, token);
        if (parse_long(token, INT32_MIN, INT32_MAX, &operand) == -1)
            die("an operand must be an integer from -2147483648 "
                "to 2147483647");
        bits = htonl((uint32_t)operand);
        memcpy(request + len, &bits, OPERAND_SIZE);
        len += OPERAND_SIZE;
    }

    next_token("Operator: ", token);
    if (strcmp(token, "+") != 0 && strcmp(token, "-") != 0
        && strcmp(token, "*") != 0)
        die("the operator must be one of + - *");
    request[len++] = (unsigned char)token[0];

    /* The whole request, then exactly the 4 bytes of the result. */
    if (write_all(sock_fd, request, len) == -1)
        die_errno("write");
    read_exactly(sock_fd, reply, sizeof reply);

    memcpy(&bits, reply, sizeof bits);
    printf("Operation result: %ld\n", (long)to_signed(ntohl(bits)));

    if (close(sock_fd) == -1)
        die_errno("close");
    return 0;
}
