/*
 * echo_selectserv.c - a TCP echo server for many clients at once, with
 * select() (IPv4 only, AF_INET).
 *
 * One process, one thread: select() waits until the listening socket or
 * any connected client is readable, and the server then does exactly the
 * work that will not block: accept() the new client, or one read() from a
 * client and the echo of those bytes.  A client that leaves (read() gives
 * 0) or fails (ECONNRESET) is removed from the set and closed; the others
 * go on.  A connection whose descriptor does not fit in an fd_set
 * (FD_SETSIZE or more) is closed at once.  Runs until SIGINT or SIGTERM,
 * then exits with status 0.
 *
 * Usage: echo_selectserv <port>
 * Partner: any echo client (chapter 04's echo_client.c, chapter 10's
 *          echo_mpclient.c)
 * Exercise: 12_select, program 1 of 1
 */

#include <arpa/inet.h>   /* htonl(), htons() */
#include <errno.h>       /* errno, EINTR, ECONNABORTED, EMFILE, ENFILE */
#include <netinet/in.h>  /* struct sockaddr_in, INADDR_ANY, in_port_t */
#include <signal.h>      /* sigaction(), SIGINT, SIGTERM, SIGPIPE */
#include <stdio.h>       /* fprintf(), perror() */
#include <stdlib.h>      /* exit(), strtoul() */
#include <string.h>      /* memset(), strerror() */
#include <sys/select.h>  /* select(), fd_set, FD_ZERO(), FD_SET(), FD_CLR(),
                            FD_ISSET(), FD_SETSIZE */
#include <sys/socket.h>  /* socket(), setsockopt(), bind(), listen(),
                            accept() */
#include <sys/time.h>    /* struct timeval */
#include <unistd.h>      /* read(), write(), close() */

/*
 * Connection requests the kernel may queue while we are busy: a thousand
 * clients may connect in one burst, and a full queue makes the kernel drop
 * a SYN (the client then retries one second later).
 */
#define BACKLOG 1024
#define BUF_SIZE 1024    /* bytes moved per read() */
#define TIMEOUT_MS 100   /* longest select() wait: see the loop in main() */

static volatile sig_atomic_t stop_requested = 0;

/* Print "<what>: <reason errno gives>" on stderr, then exit with status 1. */
static void die_errno(const char *what)
{
    perror(what);
    exit(1);
}

/*
 * Convert a decimal port number ("1" to "65535") into *port.  Returns 0 on
 * success, -1 if text is empty, holds anything but the digits 0-9, or is out
 * of range.
 */
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
 * TODO(12.1): write read_some() and write_all() as in chapter 04's
 * echo_server.c: read_some() calls read() again while it fails with EINTR;
 * write_all() writes until all len bytes are out, retries on EINTR, and
 * returns 0, or -1 (errno set) on any other error.
 */

static void handle_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/*
 * One step for a readable client: one read() (select() said it will not
 * block) and the echo of exactly those bytes.  Returns 0 while the client
 * stays, -1 when it is gone: it closed (read() gave 0) or failed (a reset:
 * ECONNRESET, EPIPE).  A failure ends this client only, never the server.
 *
 * TODO(12.2): write
 *     static int echo_once(int fd)
 * which should read_some() once into a BUF_SIZE buffer and write_all()
 * exactly the n bytes read.  Return -1 when the client is gone: read()
 * gave 0, read() failed (ECONNRESET: a note on stderr naming read), or
 * write_all() failed (EPIPE: a note naming write); 0 otherwise.  Never
 * exit: one client's failure is not the server's.
 */

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr;
    struct sigaction sa;
    struct timeval timeout;
    fd_set reads, ready;
    in_port_t port;
    int listen_fd, conn_fd, fd, fd_max, fd_num;
    int reuse = 1;
    int accept_paused = 0;  /* 1: out of descriptors, listen_fd not watched */

    if (argc != 2) {
        fprintf(stderr, "Usage: echo_selectserv <port>\n");
        return 1;
    }
    if (parse_port(argv[1], &port) == -1) {
        fprintf(stderr, "echo_selectserv: invalid port '%s' (expected 1-65535)\n",
                argv[1]);
        return 1;
    }

    /* A write() to a client that has reset: EPIPE, not death by SIGPIPE. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        die_errno("signal");

    /*
     * SIGINT, SIGTERM: set a flag.  select() is never restarted after a
     * handler (SA_RESTART or not): it fails with EINTR, and the loop below
     * then sees the flag.
     */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handle_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    if (sigaction(SIGTERM, &sa, NULL) == -1 || sigaction(SIGINT, &sa, NULL) == -1)
        die_errno("sigaction");

    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd == -1)
        die_errno("socket");
    if (setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR,
                   &reuse, sizeof reuse) == -1)
        die_errno("setsockopt");

    memset(&server_addr, 0, sizeof server_addr);
    server_addr.sin_family = AF_INET;
    server_addr.sin_addr.s_addr = htonl(INADDR_ANY);
    server_addr.sin_port = htons(port);
    if (bind(listen_fd, (struct sockaddr *)&server_addr,
             sizeof server_addr) == -1)
        die_errno("bind");
    if (listen(listen_fd, BACKLOG) == -1)
        die_errno("listen");

    /*
     * reads is the set of every descriptor we watch: the listening socket
     * and each client.  fd_max is the highest of them: select() looks at
     * descriptors 0 to fd_max only (its first argument is fd_max + 1).
     *
     * TODO(12.3): FD_ZERO() the set reads, FD_SET() listen_fd in it, and
     * start fd_max at listen_fd.
     */
    FD_ZERO(&reads);
    fd_max = -1;

    /*
     * TODO(12.4): while (!stop_requested):
     *  - copy reads into ready and set timeout to TIMEOUT_MS (select()
     *    overwrites both, so before every call), then
     *    select(fd_max + 1, &ready, NULL, NULL, &timeout); -1 with EINTR
     *    (a stop signal): back to the loop's test; other -1:
     *    die_errno("select"); 0 (the timeout): back to the loop's test;
     *  - for each fd from 0 to fd_max that is FD_ISSET in ready:
     *    the listening socket: accept() (EINTR, ECONNABORTED: go on;
     *    EMFILE, ENFILE: perror("accept"), FD_CLR(listen_fd, &reads),
     *    accept_paused = 1; anything else: die_errno("accept")); a new
     *    descriptor >= FD_SETSIZE: close() it at once; otherwise FD_SET()
     *    it in reads and raise fd_max to it;
     *    a client: echo_once(); -1: FD_CLR() it, close() it, lower fd_max
     *    while its bit is clear (not below listen_fd), and if
     *    accept_paused, FD_SET(listen_fd, &reads) again.
     */
    (void)ready;
    (void)timeout;
    (void)conn_fd;
    (void)fd_num;

    for (fd = 0; fd <= fd_max; fd++)
        if (FD_ISSET(fd, &reads))
            close(fd);
    if (accept_paused)
        close(listen_fd);
    return 0;
}
