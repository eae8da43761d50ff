/*
 * echo_client_win.c - client for the TCP echo server, Winsock 2 version
 * (IPv4 only, AF_INET).
 *
 * Connects to the server, then reads lines from standard input. Each line
 * (without its newline) goes to the server, and exactly as many bytes as
 * were sent are read back and printed as "Message from server: <text>".
 * A line that is exactly "q" or "Q", or the end of input, ends the program
 * with status 0.
 *
 * Usage: echo_client_win <IP> <port>
 * Partner: echo_server_win.c (or the POSIX echo_server)
 * Exercise: 04_windows_echo, program 2 of 2 (the Winsock twin of
 *           04_iterative_echo/echo_client.c)
 *
 * Build: x86_64-w64-mingw32-gcc -std=c11 -Wall -Wextra -Wpedantic
 *            -o echo_client_win.exe echo_client_win.c -lws2_32
 */

/*
 * inet_pton() arrived with Windows Vista, and ws2tcpip.h declares it only
 * when _WIN32_WINNT (the oldest Windows version the program must run on)
 * is Vista (0x0600) or later. Current mingw-w64 assumes Windows 10 anyway;
 * older releases assumed XP and would hide inet_pton(). It must be defined
 * before the first Windows header.
 */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0600
#endif

/*
 * winsock2.h must come before windows.h: windows.h on its own pulls in the
 * old Winsock 1 header (winsock.h), whose declarations clash with Winsock 2
 * (mingw-w64 warns "Please include winsock2.h before windows.h").
 */
#include <winsock2.h>   /* WSAStartup(), SOCKET, socket(), connect(), recv(),
                           send(), closesocket(), WSAGetLastError(),
                           WSACleanup() */
#include <ws2tcpip.h>   /* inet_pton() */
#include <windows.h>    /* FormatMessageA(), DWORD */
#include <errno.h>      /* errno for strtoul() */
#include <stdio.h>      /* printf(), fputs(), fgets(), fwrite(), fflush() */
#include <stdlib.h>     /* exit(), strtoul() */
#include <string.h>     /* memset(), strcspn(), strcmp() */

#define BUF_SIZE 1024   /* the longest line we send, newline excluded */

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
 * word.
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
 * Send all len bytes of buf. send() may send fewer bytes than asked, so we
 * loop until everything is out. Winsock's send() takes and returns int.
 * Returns 0 on success, SOCKET_ERROR on error (then WSAGetLastError() says
 * which). No EINTR case: on Windows no signal interrupts a blocking send().
 */
static int send_all(SOCKET sock, const char *buf, int len)
{
    while (len > 0) {
        int n = send(sock, buf, len, 0);

        if (n == SOCKET_ERROR)
            return SOCKET_ERROR;
        buf += n;
        len -= n;
    }
    return 0;
}

int main(int argc, char *argv[])
{
    WSADATA wsa_data;
    /* A SOCKET, not an int; INVALID_SOCKET (not -1) means "no socket". */
    SOCKET sock = INVALID_SOCKET;
    struct sockaddr_in server_addr;
    unsigned short port;
    /* room for a BUF_SIZE-byte line, its newline and the NUL fgets() adds */
    char line[BUF_SIZE + 2];
    char reply[BUF_SIZE + 2];
    int len, received, n, rc;

    /* Delete this line once your code uses these variables. */
    (void)wsa_data, (void)n;

    if (argc != 3) {
        fprintf(stderr, "Usage: echo_client_win <IP> <port>\n");
        return 1;
    }
    if (parse_port(argv[2], &port) == -1) {
        fprintf(stderr,
                "echo_client_win: invalid port '%s' (expected 1-65535)\n",
                argv[2]);
        return 1;
    }

    /*
     * Register with Winsock and ask for version 2.2 before any other
     * Winsock call; until then every socket function fails with
     * WSANOTINITIALISED (10093). WSAStartup() returns its error code
     * directly: WSAGetLastError() is not usable before Winsock has started.
     */
    /*
     * TODO(04.8): call WSAStartup() for version 2.2, keeping its return value
     * in rc; if rc is not 0, die_wsa("WSAStartup", rc). Then check that
     * wsa_data.wVersion really is 2.2 (LOBYTE() and HIBYTE() take it apart);
     * if not, say so, call WSACleanup() and return 1.
     */

    /*
     * The server's address: inet_pton() turns the dotted-decimal text into
     * the 4-byte IPv4 address in network byte order. It returns 1 on
     * success, 0 if the text is not an IPv4 address, and -1 on an error
     * (WSAGetLastError() says which).
     */
    memset(&server_addr, 0, sizeof server_addr);
    server_addr.sin_family = AF_INET;
    server_addr.sin_port = htons(port);
    rc = inet_pton(AF_INET, argv[1], &server_addr.sin_addr);
    if (rc == 0) {
        fprintf(stderr, "echo_client_win: invalid IPv4 address '%s'\n",
                argv[1]);
        return 1;
    }
    if (rc == -1)
        die_wsa("inet_pton", WSAGetLastError());

    /* An IPv4 TCP socket; failure is INVALID_SOCKET, not -1. */
    /*
     * TODO(04.9): create the socket into sock; on failure
     * die_wsa("socket", WSAGetLastError()).
     */

    /*
     * connect() returns once the three-way handshake is done, which the
     * server's system completes even before the server calls accept().
     * A refused connection is WSAECONNREFUSED (10061).
     */
    /* TODO(04.10): connect sock to server_addr; on failure die_wsa(). */

    /*
     * Every line and the prompt are flushed by hand. When stdout is a pipe
     * or a file the C library buffers it fully, and Microsoft's C runtime
     * treats setvbuf(stdout, NULL, _IOLBF, ...) as full buffering too, so
     * the POSIX cure does not work here. The prompt has no newline at all.
     */
    printf("Connected to %s:%u\n", argv[1], (unsigned)port);
    fflush(stdout);

    for (;;) {
        fputs("Input message(Q to quit): ", stdout);
        fflush(stdout);

        /* fgets() returns NULL at the end of input (or on an error): stop. */
        if (fgets(line, (int)sizeof line, stdin) == NULL)
            break;
        line[strcspn(line, "\n")] = '\0';
        if (strcmp(line, "q") == 0 || strcmp(line, "Q") == 0)
            break;
        len = (int)strlen(line);

        if (send_all(sock, line, len) == SOCKET_ERROR)
            die_wsa("send", WSAGetLastError());

        /*
         * TCP keeps no message boundaries: the echo may come back in
         * several pieces. We know how many bytes we sent, so we receive
         * until that many have come back. recv() returning 0 means the
         * server closed the connection before echoing everything.
         */
        received = 0;
        /*
         * TODO(04.11): recv() into reply + received until received == len.
         * SOCKET_ERROR: die_wsa("recv", WSAGetLastError()). 0: the server
         * has closed early; say so on stderr and exit(1).
         */

        /* fwrite(), not printf("%s"): the reply is counted bytes, not a C
         * string, and may even contain a NUL. */
        fputs("Message from server: ", stdout);
        fwrite(reply, 1, (size_t)received, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }

    if (ferror(stdin)) {
        fprintf(stderr, "echo_client_win: error reading standard input\n");
        exit(1);
    }

    /* closesocket(), not close(), and one WSACleanup() per WSAStartup(). */
    /*
     * TODO(04.12): close sock, then WSACleanup(); die_wsa() if either
     * fails.
     */
    return 0;
}
