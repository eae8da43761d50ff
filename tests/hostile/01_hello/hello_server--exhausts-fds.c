/*
 * HOSTILE submission of chapters/01_hello/hello_server.c
 * does: raises its RLIMIT_NOFILE soft limit to the hard one, opens TCP
 *   sockets until socket() fails, then forks 8 children that do the same
 *   (each holds its sockets up to 2 s more, then exits); the parent keeps
 *   all but 16 of its own and serves like the reference with those.
 *   Bounded: at most 65536 sockets and 2 s of opening per process.
 * expect: the hard limit it is given (and the cage's memory limit, which
 *   the sockets count against) holds it to its own share: the harness, and
 *   the tests that run next to it, can still open files and sockets; its
 *   greeting still passes. "HOSTILE: ... ENFILE" means the machine's whole
 *   file table was filled.
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
#include <sys/resource.h>
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

#define MAX_SOCKETS 65536   /* per process */
#define CHILDREN 8
#define SPARE 16            /* closed by the parent, to serve */

static int sockets[MAX_SOCKETS];

static double seconds(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void on_alarm(int sig)
{
    (void)sig;
}

/* sockets[] filled until socket() fails or a bound; says how far it went */
static int hoard(const char *who)
{
    double start = seconds();
    int n = 0, err = 0, late = 0;

    while (n < MAX_SOCKETS) {
        int s = socket(AF_INET, SOCK_STREAM, 0);

        if (s == -1) {
            err = errno;
            break;
        }
        sockets[n++] = s;
        if (n % 1024 == 0 && seconds() - start > 2.0) {
            late = 1;
            break;
        }
    }
    if (err != 0)
        fprintf(stderr, "HOSTILE: %s opened %d sockets, then: %s%s\n", who, n,
                strerror(err), err == ENFILE ? " (ENFILE: the machine's file table is full)" : "");
    else
        fprintf(stderr, "HOSTILE: %s opened %d sockets, then: %s\n", who, n,
                late ? "its 2 s were up" : "its bound");
    return n;
}

static void attack(void)
{
    struct sigaction wake;
    struct rlimit rl;
    char who[32];
    int n, i, k;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        unsigned long long soft = (unsigned long long)rl.rlim_cur;

        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
            fprintf(stderr, "HOSTILE: RLIMIT_NOFILE soft limit raised from %llu to %llu\n",
                    soft, (unsigned long long)rl.rlim_max);
    }
    n = hoard("it");
    signal(SIGCHLD, SIG_IGN);   /* no zombies to reap */
    for (k = 1; k <= CHILDREN; k++) {
        pid_t pid = fork();

        if (pid == -1) {
            fprintf(stderr, "HOSTILE: fork failed: %s\n", strerror(errno));
            break;
        }
        if (pid == 0) {
            /* the parent's sockets fill its table: put them down, take new */
            for (i = 0; i < n; i++)
                close(sockets[i]);
            snprintf(who, sizeof who, "child %d", k);
            hoard(who);
            memset(&wake, 0, sizeof wake);
            wake.sa_handler = on_alarm;
            sigemptyset(&wake.sa_mask);
            sigaction(SIGALRM, &wake, NULL);
            alarm(2);
            pause();
            _exit(0);
        }
    }
    for (i = n - 1; i >= 0 && i >= n - SPARE; i--)
        close(sockets[i]);
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
