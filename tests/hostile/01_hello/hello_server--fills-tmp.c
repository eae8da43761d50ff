/*
 * HOSTILE submission of chapters/01_hello/hello_server.c
 * does: fills /tmp and then /dev/shm with files hostile-fill-0, -1, ...
 *   written 1 MiB at a time, a new file every 8 MiB (under a file size
 *   limit of 16 MiB; past a smaller one, EFBIG, it goes on with the next
 *   file), with SIGXFSZ ignored, until a write fails, 4 GiB or 2 s per
 *   folder; it deletes none of them. Then it serves like the reference.
 * expect: the machine's /tmp and /dev/shm get nothing (private ones, thrown
 *   away with the sandbox, and their memory counts against the cage's
 *   limit); the harness and the tests next to it can still write their
 *   own temporary files; no hostile-fill-* is left after the test
 *
 * It attacks first, bounded, says on stderr what it achieved (lines
 * starting "HOSTILE:"), then serves like the reference, so that only
 * containment is under test (tests/selftest/test_sandbox.py).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int parse_port(const char *text, in_port_t *port)
{
    unsigned long value;
    const char *p;

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

/* socket(), bind() to the port, listen(): the descriptor, or exit(1) */
static int listen_on(in_port_t port)
{
    struct sockaddr_in addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;

    if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1) {
        perror("socket");
        exit(1);
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons(port);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
        perror("bind");
        exit(1);
    }
    if (listen(fd, 5) == -1) {
        perror("listen");
        exit(1);
    }
    return fd;
}

static void greet(int listen_fd)
{
    int conn = accept(listen_fd, NULL, NULL);

    if (conn == -1) {
        perror("accept");
        exit(1);
    }
    if (write(conn, "Hello World!", 12) != 12)
        perror("write");
    close(conn);
}

#define CHUNK (1L << 20)             /* bytes per write */
#define PER_FILE (8L << 20)          /* bytes per file */
#define BOUND (4LL << 30)            /* bytes per folder */

static char chunk[CHUNK];

static double seconds(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* dir/hostile-fill-N written until a bound or a failure; says how far */
static void fill(const char *dir)
{
    double start = seconds();
    long long total = 0;
    int files = 0, err = 0, timeout = 0;

    while (total < BOUND && err == 0) {
        char path[4096];
        long in_file = 0;
        int out;

        snprintf(path, sizeof path, "%s/hostile-fill-%d", dir, files);
        out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOCTTY, 0644);
        if (out == -1) {
            err = errno;
            break;
        }
        files++;
        while (in_file < PER_FILE && total < BOUND) {
            ssize_t put = write(out, chunk, CHUNK);

            if (put == -1) {
                err = errno;
                break;
            }
            in_file += (long)put;
            total += put;
        }
        close(out);
        if (err == EFBIG && in_file > 0)
            err = 0;   /* this file is at the size limit: on to the next one */
        if (seconds() - start > 2.0) {
            timeout = 1;
            break;
        }
    }
    fprintf(stderr, "HOSTILE: wrote %lld MiB into %d file(s) in %s, then: %s\n",
            total >> 20, files, dir,
            err != 0 ? strerror(err) : timeout ? "its 2 s were up" : "its 4 GiB bound");
}

static void attack(void)
{
    signal(SIGXFSZ, SIG_IGN);
    memset(chunk, 'x', sizeof chunk);
    fill("/tmp");
    fill("/dev/shm");
}

int main(int argc, char *argv[])
{
    in_port_t port;
    int fd;

    if (argc != 2) {
        fprintf(stderr, "Usage: hello_server <port>\n");
        return 1;
    }
    if (parse_port(argv[1], &port) == -1) {
        fprintf(stderr, "hello_server: invalid port '%s'\n", argv[1]);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    attack();
    fd = listen_on(port);
    greet(fd);
    return 0;
}
