/*
 * HOSTILE submission of chapters/01_hello/hello_server.c
 * does: creates (or appends to) a file named pwned-by-hostile in every
 *   folder that may be the grader's: each /proc/<pid>/cwd, its tests/harness
 *   and each /proc/<pid>/root/tmp; each level above its working folder (up
 *   to 8) and its tests/harness; and the folder in the environment variable
 *   WORKBOOK_HOSTILE_TARGET if set (a test passes a folder of its own there).
 *   Its own working folder is skipped (writing there is allowed); a write
 *   into the /tmp that it sees itself says "(own /tmp)". Then it serves like
 *   the reference.
 * expect: no pwned-by-hostile anywhere outside its working folder (the
 *   harness's folders, the target, the machine's /tmp); inside the sandbox
 *   the only line is "HOSTILE: wrote /proc/<pid>/root/tmp/pwned-by-hostile
 *   (own /tmp)", the private /tmp that goes with the sandbox
 *
 * It attacks first, bounded (under 2 s), says on stderr what it achieved
 * (lines starting "HOSTILE:"), then serves like the reference, so that only
 * containment is under test (tests/selftest/test_sandbox.py).
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

#define MAX_FOLDERS 4096   /* distinct folders tried */

static struct stat tried[MAX_FOLDERS];
static struct stat own_cwd, own_tmp;
static int ntried, nwritten;

static double seconds(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int same(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* dir/pwned-by-hostile, created or appended to, once per folder */
static void plant(const char *dir)
{
    char path[4200], line[128];
    struct stat st;
    int i, len, out;

    if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode) || same(&st, &own_cwd))
        return;
    for (i = 0; i < ntried; i++)
        if (same(&st, &tried[i]))
            return;
    if (ntried == MAX_FOLDERS)
        return;
    tried[ntried++] = st;
    snprintf(path, sizeof path, "%s/pwned-by-hostile", dir);
    out = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK | O_NOCTTY, 0644);
    if (out == -1)
        return;
    len = snprintf(line, sizeof line, "pwned by a hostile hello_server, pid %ld\n",
                   (long)getpid());
    if (write(out, line, (size_t)len) == len) {
        nwritten++;
        fprintf(stderr, "HOSTILE: wrote %s%s\n", path,
                same(&st, &own_tmp) ? " (own /tmp)" : "");
    }
    close(out);
}

static void attack(void)
{
    double start = seconds();
    const char *target = getenv("WORKBOOK_HOSTILE_TARGET");
    char path[4096], dir[4200];
    struct dirent *entry;
    DIR *proc;
    int level;

    /* left zero (no folder) where they cannot be read */
    (void)stat(".", &own_cwd);
    (void)stat("/tmp", &own_tmp);
    if (target != NULL)
        plant(target);
    /* ../, ../../, ... and their tests/harness */
    strcpy(path, "..");
    for (level = 1; level <= 8; level++) {
        plant(path);
        snprintf(dir, sizeof dir, "%s/tests/harness", path);
        plant(dir);
        strcat(path, "/..");
    }
    proc = opendir("/proc");
    while (proc != NULL && (entry = readdir(proc)) != NULL && seconds() - start < 2.0) {
        if (strspn(entry->d_name, "0123456789") != strlen(entry->d_name))
            continue;
        snprintf(dir, sizeof dir, "/proc/%s/cwd", entry->d_name);
        plant(dir);
        snprintf(dir, sizeof dir, "/proc/%s/cwd/tests/harness", entry->d_name);
        plant(dir);
        snprintf(dir, sizeof dir, "/proc/%s/root/tmp", entry->d_name);
        plant(dir);
    }
    if (proc != NULL)
        closedir(proc);
    fprintf(stderr, "HOSTILE: wrote into %d of %d folder(s) tried\n", nwritten, ntried);
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
