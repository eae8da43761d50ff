/*
 * sock_type.c - ask the kernel what kind of socket socket() made.
 *
 * Creates IPv4 sockets with different second and third arguments of
 * socket() and reads back, with getsockopt(), their type (SO_TYPE) and
 * protocol (SO_PROTOCOL), printing each as a number and a name.  Last, it
 * asks for a combination that does not exist, a stream socket carried by
 * UDP, and prints the errno that socket() fails with.
 *
 * Usage: sock_type
 * Exercise: 02_socket_types, program 3 of 3
 */

/*
 * SO_PROTOCOL is Linux's (POSIX has SO_TYPE only): glibc's <sys/socket.h>
 * gives the kernel's full list of options only with _DEFAULT_SOURCE, which
 * must come before the first #include.
 */
#define _DEFAULT_SOURCE

#include <errno.h>       /* errno */
#include <netinet/in.h>  /* IPPROTO_TCP, IPPROTO_UDP */
#include <stdio.h>       /* printf(), fprintf(), perror() */
#include <stdlib.h>      /* exit() */
#include <string.h>      /* strerror() */
#include <sys/socket.h>  /* socket(), getsockopt(), SO_TYPE, SO_PROTOCOL */
#include <unistd.h>      /* close() */

/* Print "<what>: <reason errno gives>" on stderr, then exit with status 1. */
static void die_errno(const char *what)
{
    perror(what);
    exit(1);
}

/* The names of the values this program can meet; "?" for any other. */
static const char *type_name(int type)
{
    switch (type) {
    case SOCK_STREAM: return "SOCK_STREAM";
    case SOCK_DGRAM:  return "SOCK_DGRAM";
    case SOCK_RAW:    return "SOCK_RAW";
    default:          return "?";
    }
}

static const char *protocol_name(int protocol)
{
    switch (protocol) {
    case IPPROTO_IP:  return "IPPROTO_IP";     /* 0: "the default" */
    case IPPROTO_TCP: return "IPPROTO_TCP";
    case IPPROTO_UDP: return "IPPROTO_UDP";
    default:          return "?";
    }
}

/*
 * getsockopt() reads one option into a buffer whose size it is told in
 * *len; it overwrites *len with the size it stored.  So len must be set
 * before every call: left uninitialised, the kernel may take it for 0
 * (and store nothing) or for garbage.
 */
static int get_int_option(int fd, int name, const char *what)
{
    int value = 0;
    socklen_t len = sizeof value;

    if (getsockopt(fd, SOL_SOCKET, name, &value, &len) == -1)
        die_errno(what);
    return value;
}

/*
 * Make socket(AF_INET, type, protocol) and print one line:
 *   socket(AF_INET, <type>, <protocol>): SO_TYPE=<n> (<name>), SO_PROTOCOL=<n> (<name>)
 * or, if socket() fails:
 *   socket(AF_INET, <type>, <protocol>): fails, errno <n> (<text>)
 */
static void show_socket(int type, int protocol, const char *args)
{
    /*
     * TODO(02.8): fd = socket(AF_INET, type, protocol).  If it fails, save
     * errno at once (printf() may change it), print the "fails" line above
     * with the number and strerror()'s text, and return.
     */

    /*
     * TODO(02.9): read the socket's SO_TYPE and SO_PROTOCOL with
     * get_int_option(), print the first line above (args is the text of
     * <type>, <protocol>; type_name() and protocol_name() give the names),
     * then close the socket (die_errno("close") if that fails).
     */

    /* the (void) casts keep the compiler quiet until your code uses these */
    (void)type;
    (void)protocol;
    (void)args;
    (void)get_int_option;
    (void)type_name;
    (void)protocol_name;
}

int main(int argc, char *argv[])
{
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "Usage: sock_type\n");
        return 1;
    }

    /*
     * Protocol 0 asks for the default protocol of that type in that
     * family; the kernel reports which one it picked.
     */
    show_socket(SOCK_STREAM, 0, "SOCK_STREAM, 0");
    show_socket(SOCK_DGRAM, 0, "SOCK_DGRAM, 0");
    show_socket(SOCK_STREAM, IPPROTO_TCP, "SOCK_STREAM, IPPROTO_TCP");
    show_socket(SOCK_DGRAM, IPPROTO_UDP, "SOCK_DGRAM, IPPROTO_UDP");
    /* UDP carries datagrams, not streams: no such socket. */
    show_socket(SOCK_STREAM, IPPROTO_UDP, "SOCK_STREAM, IPPROTO_UDP");
    return 0;
}
