/* wire.h - the bytes below the socket API: Ethernet, IPv4 and TCP headers
 * built by hand, and a pcap file to look at them with tshark or Wireshark.
 *
 * When a program calls connect(), write() or close() on a TCP socket, the
 * kernel builds every header in this file for it. In this exercise you build
 * them yourself, byte by byte, so that you know what those calls put on the
 * wire.
 *
 * Conventions used by every function below:
 *   - A header field that is wider than one byte is stored big-endian
 *     ("network byte order": most significant byte first).
 *   - IPv4 addresses and port numbers are passed in HOST order, as plain
 *     numbers (192.0.2.1 is 0xC0000201); the functions convert them.
 *   - A buffer passed to a build_* function must be large enough for what
 *     the function writes; the size is given in each description.
 * Only IPv4 (AF_INET) is covered.
 *
 * Partner files: wire.c (implements this header), tcp_conversation.c (uses it).
 * Exercise: chapter 00, the layered model.
 */
#ifndef WIRE_H
#define WIRE_H

#include <stddef.h>     /* size_t */
#include <stdint.h>     /* uint8_t, uint16_t, uint32_t */
#include <stdio.h>      /* FILE */

/* Header sizes, without options (the smallest legal header of each layer). */
#define ETH_HEADER_LEN  14
#define IPV4_HEADER_LEN 20
#define TCP_HEADER_LEN  20

/* The EtherType that says "an IPv4 datagram follows". */
#define ETHERTYPE_IPV4  0x0800

/* The IPv4 protocol number that says "a TCP segment follows". (Named
 * IP_PROTO_TCP, not IPPROTO_TCP, so that it never clashes with
 * <netinet/in.h>.) */
#define IP_PROTO_TCP    6

/* TCP flag bits, as they sit in byte 13 of the TCP header. */
#define TCP_FIN 0x01    /* no more data from this sender */
#define TCP_SYN 0x02    /* synchronise: this segment carries the sender's ISN */
#define TCP_RST 0x04    /* reset: abort the connection */
#define TCP_PSH 0x08    /* push: hand the data to the application now */
#define TCP_ACK 0x10    /* the acknowledgement number field is valid */

/* One Ethernet frame carries at most 1500 bytes of IP datagram (the MTU),
 * so a TCP segment in one frame carries at most 1500 - 20 - 20 bytes. */
#define ETH_MTU         1500
#define TCP_MAX_PAYLOAD (ETH_MTU - IPV4_HEADER_LEN - TCP_HEADER_LEN)
#define FRAME_MAX_LEN   (ETH_HEADER_LEN + ETH_MTU)

/* Classic libpcap file format (not pcapng). */
#define PCAP_MAGIC              0xA1B2C3D4u
#define PCAP_VERSION_MAJOR      2
#define PCAP_VERSION_MINOR      4
#define PCAP_SNAPLEN            65535
#define PCAP_LINKTYPE_ETHERNET  1
#define PCAP_FILE_HEADER_LEN    24
#define PCAP_RECORD_HEADER_LEN  16

/* The two endpoints of the exercise. The addresses come from ranges set
 * aside for documentation (192.0.2.0/24, RFC 5737) and the MAC addresses
 * are "locally administered" (second-lowest bit of the first byte set), so
 * nothing here belongs to a real machine. */
#define CLIENT_IP   0xC0000201u     /* 192.0.2.1 */
#define SERVER_IP   0xC0000202u     /* 192.0.2.2 */
#define CLIENT_PORT 49152           /* first port of the ephemeral range */
#define SERVER_PORT 9190            /* the textbook's example port; no
                                       * tshark dissector claims it */
static const uint8_t CLIENT_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t SERVER_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

/* ---- byte order -------------------------------------------------------- */

/* Store v at p[0..1], most significant byte first: put_be16(p, 0x1234)
 * writes 0x12 then 0x34, whatever the byte order of this machine. */
void put_be16(uint8_t *p, uint16_t v);

/* Store v at p[0..3], most significant byte first. */
void put_be32(uint8_t *p, uint32_t v);

/* Read the big-endian 16-bit number stored at p[0..1]. */
uint16_t get_be16(const uint8_t *p);

/* Read the big-endian 32-bit number stored at p[0..3]. */
uint32_t get_be32(const uint8_t *p);

/* ---- the Internet checksum (RFC 1071) ---------------------------------- */

/* The Internet checksum of data[0..len-1]: the data is read as big-endian
 * 16-bit words (an odd last byte is padded with a zero byte on its right),
 * the words are added, every carry out of the top bit is added back in at
 * the bottom ("folded"), and the one's complement of the result is returned.
 * The returned value is what put_be16() writes into a checksum field.
 * Checksumming a header that already holds its correct checksum gives 0.
 * len may be 0 (the result is then 0xFFFF). */
uint16_t inet_checksum(const uint8_t *data, size_t len);

/* ---- link layer: Ethernet II ------------------------------------------- */

/* Write a 14-byte Ethernet header at buf: destination MAC, source MAC,
 * EtherType (big-endian). Returns ETH_HEADER_LEN (14). */
size_t build_eth_header(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6],
                        uint16_t ethertype);

/* ---- internet layer: IPv4 ---------------------------------------------- */

/* Write a 20-byte IPv4 header at buf for a datagram whose payload (the
 * TCP segment, header included) is payload_len bytes long: version 4,
 * IHL 5 (no options), DSCP/ECN 0, total length 20 + payload_len,
 * identification id, flags DF (don't fragment) and fragment offset 0,
 * TTL 64, the given protocol, header checksum filled in, then the source
 * and destination addresses (passed in host order).
 * Returns IPV4_HEADER_LEN (20), or 0 and writes nothing if the total length
 * would not fit in 16 bits (payload_len > 65515). */
size_t build_ipv4_header(uint8_t *buf, uint32_t src, uint32_t dst, uint8_t protocol,
                         uint16_t payload_len, uint16_t id);

/* ---- transport layer: TCP ---------------------------------------------- */

/* The TCP checksum of the segment[0..len-1] (header and data) sent from
 * address src to address dst (host order). It covers a 12-byte
 * pseudo-header (src, dst, a zero byte, protocol 6, the TCP length len)
 * followed by the segment, padded to an even length. Compute it with the
 * checksum field of the segment set to zero; a segment that already holds
 * its correct checksum gives 0. len must be at most 65515. */
uint16_t tcp_checksum(uint32_t src, uint32_t dst, const uint8_t *segment, size_t len);

/* Write a TCP segment at buf: a 20-byte header (ports, seq, ack, data
 * offset 5, the given flags, window, checksum, urgent pointer 0) followed
 * by payload_len bytes copied from payload (which may be NULL when
 * payload_len is 0). src_ip and dst_ip are needed only for the checksum's
 * pseudo-header. buf must hold TCP_HEADER_LEN + payload_len bytes.
 * Returns TCP_HEADER_LEN + payload_len, or 0 and writes nothing if the
 * segment would not fit in one IPv4 datagram (payload_len > 65495) or
 * payload is NULL with payload_len > 0. */
size_t build_tcp_segment(uint8_t *buf, uint32_t src_ip, uint32_t dst_ip,
                         uint16_t src_port, uint16_t dst_port, uint32_t seq,
                         uint32_t ack, uint8_t flags, uint16_t window,
                         const uint8_t *payload, size_t payload_len);

/* ---- pcap files --------------------------------------------------------- */

/* Write the 24-byte pcap file header to f: magic 0xA1B2C3D4, version 2.4,
 * time zone 0, timestamp accuracy 0, snaplen 65535, link type 1 (Ethernet).
 * Every field is written big-endian, like the headers above, so a hex dump
 * of the file starts a1 b2 c3 d4; readers learn the byte order from the
 * magic number. Returns 0 on success, -1 if writing failed. */
int pcap_write_header(FILE *f);

/* Append one captured frame to f: a 16-byte record header (seconds and
 * microseconds of the timestamp, captured length, original length, all
 * big-endian, both lengths equal to len) followed by the len bytes of the
 * frame. Returns 0 on success; -1 if writing failed, or (with errno set to
 * EINVAL, nothing written) if ts_usec > 999999 or len > PCAP_SNAPLEN. */
int pcap_write_record(FILE *f, uint32_t ts_sec, uint32_t ts_usec,
                      const uint8_t *frame, size_t len);

#endif /* WIRE_H */
