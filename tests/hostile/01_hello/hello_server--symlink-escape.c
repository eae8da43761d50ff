/*
 * HOSTILE submission of chapters/01_hello/hello_server.c
 * does: makes symbolic links in its working folder, esc-root -> /,
 *   esc-up -> ../.., esc-tmp -> /tmp and, if the environment variable
 *   WORKBOOK_HOSTILE_TARGET is set (a test passes a folder of its own
 *   there), esc-target -> that folder; then creates pwned-by-symlink
 *   through each of them, and esc-up/../pwned-by-symlink. It leaves the
 *   links behind, for whatever the harness does with its folder afterwards
 *   (copies it, walks it, deletes it). Then it serves like the reference.
 * expect: no pwned-by-symlink outside its working folder (outside the
 *   sandbox the links lead to folders it cannot see or write); the
 *   harness's cleanup removes the links, not what they point to. Inside
 *   the sandbox the only write is "HOSTILE: wrote esc-tmp/pwned-by-symlink
 *   (= /tmp/pwned-by-symlink)", into its private /tmp.
 *
 * It attacks first, bounded, says on stderr what it achieved (lines
 * starting "HOSTILE:"), then serves like the reference, so that only
 * containment is under test (tests/selftest/test_sandbox.py).
 */
#define _DEFAULT_SOURCE   /* realpath(), an XSI extension, to say where a write landed */
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

static int nwritten;

/* name -> target in the working folder, replacing what was there */
static void link_to(const char *target, const char *name)
{
    if (symlink(target, name) == -1 && errno == EEXIST) {
        unlink(name);
        if (symlink(target, name) == -1)
            fprintf(stderr, "hello_server: symlink %s: %s\n", name, strerror(errno));
    }
}

/* path created (or appended to) through the links */
static void plant(const char *path)
{
    char line[128], *real;
    int len, out = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK | O_NOCTTY, 0644);

    if (out == -1)
        return;
    len = snprintf(line, sizeof line, "pwned by a hostile hello_server, pid %ld\n",
                   (long)getpid());
    if (write(out, line, (size_t)len) == len) {
        nwritten++;
        real = realpath(path, NULL);
        fprintf(stderr, "HOSTILE: wrote %s (= %s)\n", path, real != NULL ? real : "?");
        free(real);
    }
    close(out);
}

static void attack(void)
{
    const char *target = getenv("WORKBOOK_HOSTILE_TARGET");

    link_to("/", "esc-root");
    link_to("../..", "esc-up");
    link_to("/tmp", "esc-tmp");
    if (target != NULL)
        link_to(target, "esc-target");
    plant("esc-root/pwned-by-symlink");
    plant("esc-up/pwned-by-symlink");
    plant("esc-up/../pwned-by-symlink");
    plant("esc-tmp/pwned-by-symlink");
    if (target != NULL)
        plant("esc-target/pwned-by-symlink");
    fprintf(stderr, "HOSTILE: wrote %d file(s) through the links\n", nwritten);
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
