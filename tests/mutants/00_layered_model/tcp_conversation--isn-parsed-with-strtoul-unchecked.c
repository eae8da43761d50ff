/* MUTANT of solutions/00_layered_model/tcp_conversation.c
 * mistake: parses the ISNs with strtoul() and uses the result unchecked, so "abc" becomes 0 and 4294967296 wraps
 * clause: an ISN that is not a decimal number 0..4294967295 -> message on stderr, exit 1
 * caught-by: test_conversation_bad_isn
 */
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
    *out = (uint32_t)strtoul(text, NULL, 10);
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
    size_t tcp_len, ip_len, eth_len;
    uint32_t elapsed_usec;

    /* Encapsulation works from the inside out. TCP wraps the application's
     * bytes in its header (ports, sequence numbers, flags)... */
    tcp_len = build_tcp_segment(tcp_at, from->ip, to->ip, from->port, to->port,
                                seq, ack, flags, from->window,
                                (const uint8_t *)payload, payload_len);

    /* ...IP wraps the segment in its header (addresses, protocol 6), and
     * needs the segment's length to fill in its total length... */
    ip_len = build_ipv4_header(ip_at, from->ip, to->ip, IP_PROTO_TCP,
                               (uint16_t)tcp_len, from->next_ip_id);
    from->next_ip_id++;

    /* ...and the link layer wraps the datagram in an Ethernet header that
     * names the next machine on the wire and says "IPv4 inside". */
    eth_len = build_eth_header(frame, to->mac, from->mac, ETHERTYPE_IPV4);

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
    uint32_t client_data, server_data, client_fin, server_fin;
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

    /* A sequence number names one byte of the stream a side sends. The SYN
     * takes the number ISN itself, so the first data byte is ISN + 1; data
     * takes one number per byte; the FIN takes the number after the last
     * data byte. An ACK number is the next number the receiver expects.
     * uint32_t arithmetic wraps modulo 2^32, exactly as TCP's does. */
    client_data = client_isn + 1u;                      /* first request byte */
    server_data = server_isn + 1u;                      /* first reply byte */
    client_fin = client_data + (uint32_t)request_len;   /* the client's FIN */
    server_fin = server_data + (uint32_t)reply_len;     /* the server's FIN */

    /* Three-way handshake: connect() on the client, accept() on the server.
     * The SYN's ACK flag is off, so its acknowledgement field is zero. */
    write_frame(out, 1, &client, &server, TCP_SYN, client_isn, 0, NULL, 0);
    write_frame(out, 2, &server, &client, TCP_SYN | TCP_ACK, server_isn, client_data,
                NULL, 0);
    write_frame(out, 3, &client, &server, TCP_ACK, client_data, server_data, NULL, 0);

    /* write() on each side: the reply also acknowledges the whole request,
     * and the client acknowledges the whole reply. */
    write_frame(out, 4, &client, &server, TCP_PSH | TCP_ACK, client_data, server_data,
                request, request_len);
    write_frame(out, 5, &server, &client, TCP_PSH | TCP_ACK, server_data, client_fin,
                reply, reply_len);
    write_frame(out, 6, &client, &server, TCP_ACK, client_fin, server_fin, NULL, 0);

    /* close() on the client, then on the server: each FIN is acknowledged
     * with the number after it. */
    write_frame(out, 7, &client, &server, TCP_FIN | TCP_ACK, client_fin, server_fin,
                NULL, 0);
    write_frame(out, 8, &server, &client, TCP_ACK, server_fin, client_fin + 1u, NULL, 0);
    write_frame(out, 9, &server, &client, TCP_FIN | TCP_ACK, server_fin, client_fin + 1u,
                NULL, 0);
    write_frame(out, 10, &client, &server, TCP_ACK, client_fin + 1u, server_fin + 1u,
                NULL, 0);

    /* fclose() writes out what stdio still holds in its buffer, so a full
     * disk may only show up here: check it. */
    if (fclose(out) == EOF)
        die_errno("fclose");
    return 0;
}
