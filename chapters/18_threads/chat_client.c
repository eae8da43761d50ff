/*
 * chat_client.c - the client of chat_server (IPv4 only, AF_INET).
 *
 * Two threads: the main thread sends each line of standard input to the
 * server as "[name] line\n"; the other thread prints every byte the server
 * sends, as it comes.  A line that is exactly q or Q, or the end of input,
 * ends the program with status 0; the server closing the connection ends
 * it with status 0 too, after the message "chat_client: the server closed
 * the connection" on stderr.
 *
 * Usage: chat_client <IP> <port> <name>
 * Partner: chat_server.c
 * Exercise: 18_threads, program 2 of 3
 */

#include <arpa/inet.h>   /* inet_pton(), htons() */
#include <errno.h>       /* errno, EINTR */
#include <netinet/in.h>  /* struct sockaddr_in, in_port_t */
#include <pthread.h>     /* pthread_create() */
#include <stdint.h>      /* intptr_t */
#include <stdio.h>       /* getline(), fprintf(), perror() */
#include <stdlib.h>      /* exit(), malloc(), free(), strtoul() */
#include <string.h>      /* memset(), memcpy(), strcmp(), strlen() */
#include <sys/socket.h>  /* socket(), connect() */
#include <unistd.h>      /* read(), write(), _exit() */

#define BUF_SIZE 1024    /* bytes moved per read() */

/* Print "<what>: <reason errno gives>" on stderr, then exit with status 1. */
static void die_errno(const char *what)
{
    perror(what);
    exit(1);
}

/* As in chat_server.c: "1" to "65535" only. */
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
 * TODO(18.9): write read_some() and write_all() as in chat_server.c.
 */

/*
 * The receiving thread: copy every byte from the socket to stdout until
 * the server closes.  The textbook's loop ignores read() returning 0 and
 * spins for ever once the server is gone; here 0 ends the whole program.
 */
/*
 * TODO(18.10): write
 *     static void *receive_routine(void *arg)
 * which should take the descriptor back with (int)(intptr_t)arg and
 * copy what read_some() returns to STDOUT_FILENO with write_all() while it
 * returns > 0; -1: die_errno("read"); 0: print "chat_client: the server
 * closed the connection" on stderr and _exit(0), which ends every thread.
 */

/*
 * The sending side, in the main thread: each line of stdin goes out as
 * "[name] line\n", in one buffer, so that the server gets it as one line.
 * getline() takes a line of any length; a last line without a newline
 * gets one.  Returns at q, Q or the end of input.
 */
/*
 * TODO(18.11): write
 *     static void send_routine(int sock_fd, const char *name)
 * which should read stdin with getline() until the end of input or a
 * line that is exactly q or Q (with or without its newline); for each
 * other line, add a newline if it has none, build "[name] " + line in one
 * malloc()ed buffer and write_all() it to sock_fd, then free it.
 */

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    in_port_t port;
    pthread_t tid;
    int sock_fd, err;

    if (argc != 4) {
        fprintf(stderr, "Usage: chat_client <IP> <port> <name>\n");
        return 1;
    }
    if (parse_port(argv[2], &port) == -1) {
        fprintf(stderr, "chat_client: invalid port '%s' (expected 1-65535)\n", argv[2]);
        return 1;
    }

    memset(&server_addr, 0, sizeof server_addr);
    server_addr.sin_family = AF_INET;
    server_addr.sin_port = htons(port);
    if (inet_pton(AF_INET, argv[1], &server_addr.sin_addr) != 1) {
        fprintf(stderr, "chat_client: invalid IPv4 address '%s'\n", argv[1]);
        return 1;
    }

    sock_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (sock_fd == -1)
        die_errno("socket");
    if (connect(sock_fd, (struct sockaddr *)&server_addr, sizeof server_addr) == -1)
        die_errno("connect");

    /*
     * TODO(18.12): pthread_create() a thread running receive_routine(),
     * the socket passed by value ((void *)(intptr_t)sock_fd); on failure
     * (it returns the error number, not -1) say so and return 1.  Then
     * send_routine(sock_fd, argv[3]) in this thread.
     */
    (void)tid;
    (void)err;

    /*
     * q or the end of input: returning from main() ends the process, and
     * the receiving thread with it (blocked in read(), it would wait for
     * ever); the kernel closes the socket.  No close() here: the other
     * thread still reads from that descriptor.
     */
    return 0;
}
