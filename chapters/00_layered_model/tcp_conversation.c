/* tcp_conversation.c - write every frame of one short TCP conversation to a
 * pcap file, building each Ethernet, IPv4 and TCP header by hand.
 *
 * Usage: tcp_conversation <out.pcap> <client-isn> <server-isn> <request> <reply>
 *
 * The file holds the ten frames that the kernels of a client (192.0.2.1,
 * port 49152) and a server (192.0.2.2, port 9190) exchange when the client
 * connects, sends <request>, the server answers <reply>, and both close:
 *
 *    1 C->S SYN            2 S->C SYN+ACK        3 C->S ACK
 *    4 C->S PSH+ACK <request>                    5 S->C PSH+ACK <reply>
 *    6 C->S ACK            7 C->S FIN+ACK        8 S->C ACK
 *    9 S->C FIN+ACK       10 C->S ACK
 *
 * <client-isn> and <server-isn> are the initial sequence numbers, decimal
 * 0..4294967295. <request> and <reply> are 1..1460 bytes each (one segment).
 * Nothing is sent anywhere: look at the result with
 *    tshark -r out.pcap        (one line per frame; add -V for every field)
 *
 * Partner files: wire.h, wire.c. Exercise: chapter 00, the layered model.
 */
#include <ctype.h>      /* isdigit */
#include <errno.h>      /* errno, ERANGE */
#include <stdint.h>     /* uint8_t, uint16_t, uint32_t, UINT32_MAX */
#include <stdio.h>      /* FILE, fopen, fclose, fprintf, perror */
#include <stdlib.h>     /* exit, strtoull */
#include <string.h>     /* strlen, strerror */

#include "wire.h"

/* The first frame is stamped 2024-01-01 00:00:00 UTC, each next one a
 * millisecond after the one before. A fixed clock makes the same arguments
 * give the same file, byte for byte. */
#define START_TIME      1704067200u
#define FRAME_SPACING   1000u           /* microseconds */

/* What one side of the connection needs to address its frames. */
struct endpoint {
    const uint8_t *mac;
    uint32_t ip;
    uint16_t port;
    uint16_t window;        /* receive window it advertises */
    uint16_t next_ip_id;    /* each sender numbers its own IPv4 datagrams */
};

static void die_errno(const char *what)
{
    perror(what);
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "Usage: tcp_conversation <out.pcap> <client-isn> <server-isn>"
                    " <request> <reply>\n");
    exit(1);
}

/* Parse a decimal number 0..4294967295 into *out. Returns 0, or -1 if text
 * is anything else. strtoull() alone is too lenient: it skips leading
 * spaces, accepts a sign (and turns "-1" into a huge number) and stops
 * quietly at the first non-digit, so check the characters first. */
static int parse_u32(const char *text, uint32_t *out)
{
    const char *p;
    unsigned long long value;

    if (*text == '\0')
        return -1;
    for (p = text; *p != '\0'; p++)
        if (!isdigit((unsigned char)*p))
            return -1;

    errno = 0;
    value = strtoull(text, NULL, 10);
    if (errno == ERANGE || value > UINT32_MAX)
        return -1;
    *out = (uint32_t)value;
    return 0;
}

/* Build one frame from `from` to `to` and append it to the capture.
 * seq and ack go into the TCP header as they are; the caller works them out. */
static void write_frame(FILE *out, unsigned frame_no, struct endpoint *from,
                        const struct endpoint *to, uint8_t flags, uint32_t seq,
                        uint32_t ack, const char *payload, size_t payload_len)
{
    uint8_t frame[FRAME_MAX_LEN];
    uint8_t *ip_at = frame + ETH_HEADER_LEN;
    uint8_t *tcp_at = ip_at + IPV4_HEADER_LEN;
    size_t tcp_len = 0, ip_len = 0, eth_len = 0;
    uint32_t elapsed_usec;

    /* TODO(00.11): encapsulate, from the inside out, into frame[]:
     *   1. TCP wraps the application's bytes: build_tcp_segment() at tcp_at
     *      (ports, seq, ack, flags, the sender's window, the payload);
     *   2. IP wraps the segment: build_ipv4_header() at ip_at, which needs
     *      the segment's length, protocol IP_PROTO_TCP and the sender's
     *      next_ip_id (then count it up: each sender numbers its datagrams);
     *   3. Ethernet wraps the datagram: build_eth_header() at frame, to the
     *      receiver's MAC from the sender's, EtherType ETHERTYPE_IPV4.
     * Store the three lengths in tcp_len, ip_len and eth_len, and delete
     * the (void) lines, which only silence warnings about unused names. */
    (void)ip_at;
    (void)tcp_at;
    (void)from;
    (void)to;
    (void)flags;
    (void)seq;
    (void)ack;
    (void)payload;
    (void)payload_len;

    if (tcp_len == 0 || ip_len == 0 || eth_len == 0) {
        fprintf(stderr, "tcp_conversation: could not build frame %u\n", frame_no);
        exit(1);
    }

    /* A capture records when each frame was seen: keep the clock moving
     * forward, one frame at a time. */
    elapsed_usec = (frame_no - 1) * FRAME_SPACING;
    if (pcap_write_record(out, START_TIME + elapsed_usec / 1000000u,
                          elapsed_usec % 1000000u, frame,
                          eth_len + ip_len + tcp_len) == -1)
        die_errno("fwrite");
}

int main(int argc, char *argv[])
{
    const char *path, *request, *reply;
    size_t request_len, reply_len;
    uint32_t client_isn, server_isn;
    FILE *out;
    /* MAC, IP and port from wire.h; the windows are ones a Linux kernel
     * might advertise; each side numbers its IPv4 datagrams from 1. */
    struct endpoint client = { CLIENT_MAC, CLIENT_IP, CLIENT_PORT, 64240, 1 };
    struct endpoint server = { SERVER_MAC, SERVER_IP, SERVER_PORT, 65160, 1 };

    if (argc != 6)
        usage();
    path = argv[1];
    request = argv[4];
    reply = argv[5];

    if (parse_u32(argv[2], &client_isn) == -1) {
        fprintf(stderr, "tcp_conversation: invalid client ISN '%s'"
                        " (expected a decimal number 0-4294967295)\n", argv[2]);
        exit(1);
    }
    if (parse_u32(argv[3], &server_isn) == -1) {
        fprintf(stderr, "tcp_conversation: invalid server ISN '%s'"
                        " (expected a decimal number 0-4294967295)\n", argv[3]);
        exit(1);
    }

    /* Each message travels in one segment, and one segment must fit in one
     * Ethernet frame; an empty message would send no data at all. */
    request_len = strlen(request);
    reply_len = strlen(reply);
    if (request_len == 0 || request_len > TCP_MAX_PAYLOAD) {
        fprintf(stderr, "tcp_conversation: the request must be 1-%d bytes, not %zu\n",
                TCP_MAX_PAYLOAD, request_len);
        exit(1);
    }
    if (reply_len == 0 || reply_len > TCP_MAX_PAYLOAD) {
        fprintf(stderr, "tcp_conversation: the reply must be 1-%d bytes, not %zu\n",
                TCP_MAX_PAYLOAD, reply_len);
        exit(1);
    }

    /* "wb": a pcap file is binary; "b" matters on Windows and is harmless here. */
    out = fopen(path, "wb");
    if (out == NULL) {
        fprintf(stderr, "tcp_conversation: fopen '%s': %s\n", path, strerror(errno));
        exit(1);
    }
    if (pcap_write_header(out) == -1)
        die_errno("fwrite");

    /* TODO(00.12): work out, once, the four sequence numbers the frames
     * need (declare them as uint32_t): where the client's data starts, where
     * the server's data starts, and where each side's FIN sits. A SYN
     * consumes one sequence number, each data byte one, a FIN one. An ACK
     * number is the next sequence number the receiver expects. uint32_t
     * arithmetic wraps modulo 2^32, exactly as TCP's does. */

    /* Three-way handshake: connect() on the client, accept() on the server.
     * The SYN's ACK flag is off, so its acknowledgement field is zero. */
    write_frame(out, 1, &client, &server, TCP_SYN, client_isn, 0, NULL, 0);

    /* TODO(00.13): write frames 2 to 10, in this order (C = client):
     *    2 S->C SYN+ACK        3 C->S ACK
     *    4 C->S PSH+ACK with the request      5 S->C PSH+ACK with the reply
     *    6 C->S ACK            7 C->S FIN+ACK        8 S->C ACK
     *    9 S->C FIN+ACK       10 C->S ACK
     * Draw the sequence diagram from the notes first, with the numbers. */

    /* fclose() writes out what stdio still holds in its buffer, so a full
     * disk may only show up here: check it. */
    if (fclose(out) == EOF)
        die_errno("fclose");
    return 0;
}
