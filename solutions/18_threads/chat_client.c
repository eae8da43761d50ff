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

/* read() that starts again when a signal interrupts it before any data. */
static ssize_t read_some(int fd, char *buf, size_t len)
{
    ssize_t n;

    do
        n = read(fd, buf, len);
    while (n == -1 && errno == EINTR);
    return n;
}

/* Write all len bytes; 0 on success, -1 with errno set on error. */
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
 * The receiving thread: copy every byte from the socket to stdout until
 * the server closes.  The textbook's loop ignores read() returning 0 and
 * spins for ever once the server is gone; here 0 ends the whole program.
 */
static void *receive_routine(void *arg)
{
    int sock_fd = (int)(intptr_t)arg;
    char buf[BUF_SIZE];
    ssize_t n;

    while ((n = read_some(sock_fd, buf, sizeof buf)) > 0)
        if (write_all(STDOUT_FILENO, buf, (size_t)n) == -1)
            die_errno("write");
    if (n == -1)
        die_errno("read");
    fprintf(stderr, "chat_client: the server closed the connection\n");
    /*
     * End the process from this thread.  _exit(), not exit(): the main
     * thread may be inside getline() holding stdin's lock, which exit()'s
     * flushing of the stdio streams could wait for.  Nothing is left in a
     * stdio buffer: stdout is written with write(), stderr is unbuffered.
     */
    _exit(0);
}

/*
 * The sending side, in the main thread: each line of stdin goes out as
 * "[name] line\n", in one buffer, so that the server gets it as one line.
 * getline() takes a line of any length; a last line without a newline
 * gets one.  Returns at q, Q or the end of input.
 */
static void send_routine(int sock_fd, const char *name)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    while ((len = getline(&line, &cap, stdin)) != -1) {
        size_t name_len = strlen(name), total;
        char *msg;

        if (strcmp(line, "q\n") == 0 || strcmp(line, "Q\n") == 0
            || strcmp(line, "q") == 0 || strcmp(line, "Q") == 0)
            break;
        if (line[len - 1] != '\n')
            line[len++] = '\n';   /* getline() left room: cap > len */
        total = name_len + 3 + (size_t)len;
        msg = malloc(total);
        if (msg == NULL)
            die_errno("malloc");
        msg[0] = '[';
        memcpy(msg + 1, name, name_len);
        memcpy(msg + 1 + name_len, "] ", 2);
        memcpy(msg + 3 + name_len, line, (size_t)len);
        if (write_all(sock_fd, msg, total) == -1)
            die_errno("write");
        free(msg);
    }
    if (ferror(stdin))
        die_errno("getline");
    free(line);
}

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

    err = pthread_create(&tid, NULL, receive_routine, (void *)(intptr_t)sock_fd);
    if (err != 0) {
        fprintf(stderr, "chat_client: pthread_create: %s\n", strerror(err));
        return 1;
    }
    send_routine(sock_fd, argv[3]);

    /*
     * q or the end of input: returning from main() ends the process, and
     * the receiving thread with it (blocked in read(), it would wait for
     * ever); the kernel closes the socket.  No close() here: the other
     * thread still reads from that descriptor.
     */
    return 0;
}
