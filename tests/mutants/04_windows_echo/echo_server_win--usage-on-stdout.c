/* MUTANT of solutions/04_windows_echo/echo_server_win.c
 * mistake: prints the usage line on stdout, where an error message does not belong
 * clause: wrong number of arguments: Usage: on stderr, exit status 1
 * caught-by: test_echo_server_usage
 */
/*
 * echo_server_win.c - iterative TCP echo server, Winsock 2 version (IPv4 only,
 * AF_INET).
 *
 * Serves exactly five clients, one after another. For each it prints
 * "Connected client N", sends back every byte the client sends until the
 * client closes, closes that connection and takes the next one. A client
 * that vanishes abruptly ends only its own session. Exits with status 0
 * after the fifth client.
 *
 * Usage: echo_server_win <port>
 * Partner: echo_client_win.c (the POSIX echo_client works with it too)
 * Exercise: 04_windows_echo, program 1 of 2 (the Winsock twin of
 *           04_iterative_echo/echo_server.c)
 *
 * Build: x86_64-w64-mingw32-gcc -std=c11 -Wall -Wextra -Wpedantic
 *            -o echo_server_win.exe echo_server_win.c -lws2_32
 */

/*
 * winsock2.h must come before windows.h: windows.h on its own pulls in the
 * old Winsock 1 header (winsock.h), whose declarations clash with Winsock 2
 * (mingw-w64 warns "Please include winsock2.h before windows.h").
 */
#include <winsock2.h>   /* WSAStartup(), SOCKET, socket(), bind(), listen(),
                           accept(), recv(), send(), closesocket(),
                           WSAGetLastError(), WSACleanup() */
#include <windows.h>    /* FormatMessageA(), DWORD */
#include <errno.h>      /* errno for strtoul() */
#include <stdio.h>      /* printf(), fprintf(), fflush() */
#include <stdlib.h>     /* exit(), strtoul() */
#include <string.h>     /* memset() */

#define BUF_SIZE    1024  /* bytes echoed per recv() */
#define BACKLOG     5     /* connection requests Windows may queue for us */
#define MAX_CLIENTS 5     /* serve this many clients, then exit */

/*
 * Print "<call>: <Windows' text for err> (WSA error <err>)" on stderr.
 * Winsock does not set errno, so perror() and strerror() know nothing about
 * its errors; the caller passes the number it got from WSAGetLastError()
 * (or, for WSAStartup(), the return value). FormatMessageA() looks up the
 * system's text for that number; if it has none we still print the number,
 * which is what you search the documentation for.
 */
static void print_wsa_error(const char *call, int err)
{
    char text[512];
    DWORD len;

    len = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM |
                         FORMAT_MESSAGE_IGNORE_INSERTS,
                         NULL, (DWORD)err, 0, text, (DWORD)sizeof text, NULL);
    /* The system's text ends with "\r\n"; drop it so our line ends once. */
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' ||
                       text[len - 1] == ' '))
        len--;
    if (len > 0)
        fprintf(stderr, "%s: %.*s (WSA error %d)\n", call, (int)len, text, err);
    else
        fprintf(stderr, "%s: WSA error %d\n", call, err);
}

/*
 * Report a failed Winsock call and exit with status 1. We do not call
 * WSACleanup() first: when a process ends, Windows closes its sockets and
 * forgets its WSAStartup() by itself.
 */
static void die_wsa(const char *call, int err)
{
    print_wsa_error(call, err);
    exit(1);
}

/*
 * Convert a decimal port number ("1" to "65535") into *port. Returns 0 on
 * success, -1 if text is empty, holds anything but the digits 0-9, or is out
 * of range. Never atoi(): it turns "abc" into 0 and "80x" into 80 without a
 * word, and binding port 0 silently picks some free port.
 */
static int parse_port(const char *text, unsigned short *port)
{
    const char *p;
    unsigned long value;

    if (*text == '\0')
        return -1;
    /* strtoul() alone would also accept " 80", "+80" and even "-80". */
    for (p = text; *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            return -1;

    errno = 0;
    value = strtoul(text, NULL, 10);
    if (errno != 0 || value < 1 || value > 65535)  /* ERANGE: far too big */
        return -1;
    *port = (unsigned short)value;
    return 0;
}

/*
 * Echo everything one client sends until it closes its side. Any error ends
 * this client only: a note goes to stderr and the caller moves on to the
 * next client.
 *
 * recv() returns the number of bytes received, 0 when the client has closed
 * the connection, and SOCKET_ERROR (-1) on an error such as WSAECONNRESET
 * (the client reset the connection). The loop runs while recv() returns
 * > 0; testing != 0 would treat SOCKET_ERROR as data, and since the error
 * repeats on every call, spin for ever.
 *
 * send() may send fewer bytes than asked, so the inner loop sends until all
 * n bytes are out. Note the types: Winsock's recv() and send() take and
 * return int, not size_t and ssize_t.
 *
 * There is no EINTR case: on Windows no signal interrupts a blocking recv()
 * or send(). (WSAEINTR exists, but only WSACancelBlockingCall() of the old
 * Winsock 1.1 produces it.)
 */
static void serve_client(SOCKET conn_sock, int client_no)
{
    char buf[BUF_SIZE];
    int n, sent, m;

    while ((n = recv(conn_sock, buf, (int)sizeof buf, 0)) > 0) {
        for (sent = 0; sent < n; sent += m) {
            m = send(conn_sock, buf + sent, n - sent, 0);
            if (m == SOCKET_ERROR) {
                int err = WSAGetLastError();

                fprintf(stderr, "echo_server_win: client %d is gone: ",
                        client_no);
                print_wsa_error("send", err);
                return;
            }
        }
    }
    if (n == SOCKET_ERROR) {
        int err = WSAGetLastError();

        fprintf(stderr, "echo_server_win: client %d is gone: ", client_no);
        print_wsa_error("recv", err);
    }
}

int main(int argc, char *argv[])
{
    WSADATA wsa_data;
    /* A SOCKET, not an int; INVALID_SOCKET (not -1) means "no socket". */
    SOCKET listen_sock = INVALID_SOCKET;
    SOCKET conn_sock = INVALID_SOCKET;
    struct sockaddr_in server_addr, client_addr;
    int client_addr_len;                  /* an int, not a socklen_t */
    unsigned short port;
    int served, rc;

    if (argc != 2) {
        printf("Usage: echo_server_win <port>\n");
        return 1;
    }
    if (parse_port(argv[1], &port) == -1) {
        fprintf(stderr,
                "echo_server_win: invalid port '%s' (expected 1-65535)\n",
                argv[1]);
        return 1;
    }

    /*
     * Before any other Winsock call, a program must register with the
     * Winsock library and ask for the version it was written for: 2.2,
     * packed into a WORD by MAKEWORD(2, 2). Without this every socket
     * function fails with WSANOTINITIALISED (10093). WSAStartup() returns its
     * error code directly instead of through WSAGetLastError(), which is not
     * usable before Winsock has started.
     */
    rc = WSAStartup(MAKEWORD(2, 2), &wsa_data);
    if (rc != 0)
        die_wsa("WSAStartup", rc);
    if (LOBYTE(wsa_data.wVersion) != 2 || HIBYTE(wsa_data.wVersion) != 2) {
        fprintf(stderr, "echo_server_win: Winsock 2.2 is not available\n");
        WSACleanup();
        return 1;
    }

    /*
     * No SIGPIPE here. On POSIX, writing to a connection the client has
     * reset raises SIGPIPE, whose default action kills the whole server, so
     * echo_server.c ignores it. Windows has no SIGPIPE: send() simply fails
     * with WSAECONNRESET or WSAECONNABORTED, and serve_client() above treats
     * that as "this client is gone".
     */

    /*
     * An IPv4 (AF_INET) TCP (SOCK_STREAM) socket. A socket is a SOCKET, an
     * unsigned handle, not a small int descriptor, so failure is
     * INVALID_SOCKET, not -1.
     */
    listen_sock = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (listen_sock == INVALID_SOCKET)
        die_wsa("socket", WSAGetLastError());

    /*
     * Deliberately no SO_REUSEADDR, unlike echo_server.c. Windows lets a
     * server bind its port while old connections are in TIME_WAIT without
     * any option, so restarting works already. And on Windows SO_REUSEADDR
     * means something else and dangerous: it lets a socket bind to a port
     * that another socket is actively listening on. Left at the default,
     * bind() fails with WSAEADDRINUSE (10048) when another server has the
     * port. (SO_EXCLUSIVEADDRUSE goes further and stops other programs from
     * taking the port over with SO_REUSEADDR; services use it.)
     */

    /*
     * Any of this host's IPv4 addresses (INADDR_ANY) and our port, both in
     * network byte order. struct sockaddr_in is the same as on POSIX.
     * Winsock marks failure of bind() and listen() with SOCKET_ERROR (which
     * is -1, but spelled the Winsock way).
     */
    memset(&server_addr, 0, sizeof server_addr);
    server_addr.sin_family = AF_INET;
    server_addr.sin_addr.s_addr = htonl(INADDR_ANY);
    server_addr.sin_port = htons(port);
    if (bind(listen_sock, (struct sockaddr *)&server_addr,
             (int)sizeof server_addr) == SOCKET_ERROR)
        die_wsa("bind", WSAGetLastError());

    /*
     * From here on Windows completes clients' connection requests by itself
     * and queues up to about BACKLOG of them until we accept them: a second
     * client's connect() succeeds while we are still busy with the first.
     */
    if (listen(listen_sock, BACKLOG) == SOCKET_ERROR)
        die_wsa("listen", WSAGetLastError());

    served = 0;
    while (served < MAX_CLIENTS) {
        /*
         * Take the next connection from the queue, waiting if there is none.
         * The address length is an int in Winsock (socklen_t on POSIX); it
         * must hold the size of client_addr on every call.
         */
        client_addr_len = (int)sizeof client_addr;
        conn_sock = accept(listen_sock, (struct sockaddr *)&client_addr,
                           &client_addr_len);
        if (conn_sock == INVALID_SOCKET) {
            int err = WSAGetLastError();

            /*
             * A client that reset its connection while it was still waiting
             * in the queue makes accept() fail: Windows reports
             * WSAECONNRESET, Wine WSAENOTCONN. That client is gone, not the
             * server, and it does not count as served: take the next one.
             * Any other error means the listening socket itself is in
             * trouble.
             */
            if (err == WSAECONNRESET || err == WSAECONNABORTED ||
                err == WSAENOTCONN) {
                fprintf(stderr, "echo_server_win: a client left before "
                        "it was accepted: ");
                print_wsa_error("accept", err);
                continue;
            }
            die_wsa("accept", err);
        }
        served++;

        /*
         * Flush at once, for two reasons. When stdout is a pipe or a file,
         * the C library buffers it fully, so without a flush the line would
         * appear only when the buffer fills or the program ends. And the
         * usual POSIX cure, setvbuf(stdout, NULL, _IOLBF, ...), does not
         * work here: Microsoft's C runtime treats _IOLBF as _IOFBF (full
         * buffering). So: fflush() after every line that must be seen now.
         */
        printf("Connected client %d\n", served);
        fflush(stdout);

        serve_client(conn_sock, served);

        /* closesocket(), not close(): a SOCKET is not a C runtime file. */
        if (closesocket(conn_sock) == SOCKET_ERROR) {
            int err = WSAGetLastError();

            fprintf(stderr, "echo_server_win: client %d: ", served);
            print_wsa_error("closesocket", err);
        }
    }

    if (closesocket(listen_sock) == SOCKET_ERROR)
        die_wsa("closesocket", WSAGetLastError());

    /* Tell Winsock we are done with it: one WSACleanup() per WSAStartup(). */
    if (WSACleanup() == SOCKET_ERROR)
        die_wsa("WSACleanup", WSAGetLastError());
    return 0;
}
