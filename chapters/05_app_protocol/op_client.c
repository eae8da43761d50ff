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
 * TODO(05.6): write the helpers for the socket:
 *     static void die(const char *why)
 * prints "op_client: <why>" on stderr and exits with status 1;
 *     static int write_all(int fd, const unsigned char *buf, size_t len)
 * is chapter 04's (write until all len bytes are out, retry on EINTR);
 *     static void read_exactly(int fd, unsigned char *buf, size_t len)
 * reads until exactly len bytes have come (the 4 bytes of the result may
 * arrive in pieces), retrying on EINTR; read() returning 0 first means the
 * server closed: die() with a message (reading again would return 0 for
 * ever); a read error: die_errno("read").
 */

/*
 * TODO(05.7): write the helpers for the input:
 *     static void next_token(const char *prompt, char *token)
 * prints the prompt, fflush(stdout) (it has no newline), and reads the
 * next whitespace-separated word with scanf("%63s", token) into a buffer
 * of TOKEN_MAX + 1 bytes; scanf() not returning 1 is the end of input:
 * die().
 *     static int parse_long(const char *token, long min, long max,
 *                           long *value)
 * converts the whole token with strtol() (check its end pointer and
 * ERANGE) and returns 0 if the value is within [min, max], else -1.
 */

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    in_port_t port;
    int rc;

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
     * TODO(05.8): as in chapter 04's echo_client: socket(), connect() to
     * server_addr (die_errno("socket"), die_errno("connect")), then print a
     * line saying "Connected".  Connect first, as the textbook does, and
     * only then ask for the input.
     */

    /*
     * TODO(05.9): build the request in an unsigned char array of
     * MAX_REQUEST bytes, checking every token before anything is sent; on
     * an invalid token die() with a message:
     *  - next_token("Operand count: ", ...): a number from 1 to
     *    MAX_OPERANDS, stored as one unsigned byte;
     *  - for i = 1 .. count, next_token("Operand i: ", ...) (snprintf() the
     *    prompt): an integer from INT32_MIN to INT32_MAX; append htonl() of
     *    its bits as 4 bytes (memcpy(): the place is not aligned);
     *  - next_token("Operator: ", ...): exactly "+", "-" or "*"; append its
     *    one byte.
     */

    /*
     * TODO(05.10): write_all() the whole request (die_errno("write") if it
     * fails), read_exactly() the 4 bytes of the result, ntohl() them and
     * print "Operation result: <n>" with n signed.  (Casting a uint32_t
     * above INT32_MAX to int32_t is implementation-defined in C; the value
     * is -(int32_t)(UINT32_MAX - bits) - 1.)  Then close the socket.
     */

    return 0;
}
