/*
 * HOSTILE submission of chapters/01_hello/hello_server.c
 * does: #includes the answer key by a path relative to the source file,
 *   ../../../solutions/01_hello/answers.txt (from chapters/01_hello/ of a
 *   student's tree next to the workbook; from tests/hostile/01_hello/ of
 *   this repository it is the real key). A key is not C: the compiler
 *   fails on it and, left to itself, quotes the lines it fails on, that is
 *   the key, into the student's feedback. Only one #include can be tried
 *   (the first one that fails stops the compilation); the rest is the
 *   reference server.
 * expect: it does not compile in the sandbox (the key is not visible there:
 *   "No such file or directory"), and whatever the compiler says, no line
 *   of the key shows in the feedback or the test's log
 *
 * Where the included file is missing or empty it is the reference server
 * (tests/selftest/test_sandbox.py).
 */
#include "../../../solutions/01_hello/answers.txt"
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
    fd = listen_on(port);
    greet(fd);
    return 0;
}
