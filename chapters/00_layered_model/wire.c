/* wire.c - build Ethernet, IPv4 and TCP headers by hand; write pcap files.
 *
 * No Usage line: this is a library, not a program. tcp_conversation.c uses
 * it to write a whole TCP conversation, and tests/check/test_wire.c tests
 * each function on its own:
 *   make check CHAPTER=00_layered_model
 *
 * Partner files: wire.h (what each function must do), tcp_conversation.c.
 * Exercise: chapter 00, the layered model.
 *
 * Every function below is a stub that compiles and returns a harmless wrong
 * value. The (void) casts only keep the compiler quiet about parameters a
 * stub does not use yet: delete them as you write each function.
 */
#include <errno.h>      /* errno, EINVAL */
#include <stdint.h>     /* uint8_t, uint16_t, uint32_t, uint64_t */
#include <stdio.h>      /* FILE, fwrite */
#include <string.h>     /* memcpy */

#include "wire.h"

/* ---- byte order -------------------------------------------------------- */

/* Shifting and masking works on numbers, not on their layout in memory, so
 * these four functions give the same bytes on a little-endian PC as on a
 * big-endian machine. (htons()/htonl() do the same job for socket address
 * structures; here we write into a byte buffer directly.) */

void put_be16(uint8_t *p, uint16_t v)
{
    /* TODO(00.1): store the most significant byte of v in p[0] and the
     * least significant in p[1] (use >> and & 0xFF, not a pointer cast). */
    (void)p;
    (void)v;
}

void put_be32(uint8_t *p, uint32_t v)
{
    /* TODO(00.1): the same for four bytes, p[0] = bits 31..24. */
    (void)p;
    (void)v;
}

uint16_t get_be16(const uint8_t *p)
{
    /* TODO(00.2): rebuild the number from p[0] (high) and p[1] (low). */
    (void)p;
    return 0;
}

uint32_t get_be32(const uint8_t *p)
{
    /* TODO(00.2): the same for four bytes. Cast each byte to uint32_t
     * before shifting it: a byte promoted to int and shifted left by 24
     * overflows when its top bit is set. */
    (void)p;
    return 0;
}

/* ---- the Internet checksum (RFC 1071) ---------------------------------- */

/* The checksum is computed in two steps so that TCP can sum two separate
 * buffers (its pseudo-header, then the segment) as if they were one.
 *
 * checksum_add() adds data[0..len-1] to sum as big-endian 16-bit words. The
 * sum is kept in 64 bits: each word adds at most 0xFFFF, so no carry can be
 * lost before the final fold, however long the data. Only the LAST buffer
 * added may have an odd length: its last byte is the high half of a word
 * whose low half is the zero byte of padding. */
static uint64_t checksum_add(uint64_t sum, const uint8_t *data, size_t len)
{
    /* TODO(00.3): add each 16-bit big-endian word of data to sum; if len is
     * odd, add the last byte as the high half of one more word. */
    (void)data;
    (void)len;
    return sum;
}

/* One's complement addition sends each carry out of bit 15 back into bit 0
 * ("end-around carry"). Adding the high part to the low part can itself
 * carry, so fold until nothing is left above 16 bits; then complement. */
static uint16_t checksum_finish(uint64_t sum)
{
    /* TODO(00.4): fold the carries back in, then return the complement. */
    (void)sum;
    return 0;
}

uint16_t inet_checksum(const uint8_t *data, size_t len)
{
    return checksum_finish(checksum_add(0, data, len));
}

/* ---- link layer: Ethernet II ------------------------------------------- */

size_t build_eth_header(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6],
                        uint16_t ethertype)
{
    /* TODO(00.5): destination MAC, source MAC, EtherType (big-endian);
     * return ETH_HEADER_LEN. The destination comes first, so a network card
     * can decide whether the frame is for it after six bytes. */
    (void)buf;
    (void)dst;
    (void)src;
    (void)ethertype;
    return 0;
}

/* ---- internet layer: IPv4 ---------------------------------------------- */

size_t build_ipv4_header(uint8_t *buf, uint32_t src, uint32_t dst, uint8_t protocol,
                         uint16_t payload_len, uint16_t id)
{
    /* TODO(00.6): refuse (return 0) a payload whose total length would not
     * fit in 16 bits; then write the 20 bytes: version and IHL, DSCP/ECN,
     * total length (header included), id, flags DF with offset 0, TTL 64,
     * protocol, checksum, source, destination. The checksum covers the
     * header only and is computed with its own field set to zero: zero it,
     * then fill it in last. Return IPV4_HEADER_LEN. */
    (void)buf;
    (void)src;
    (void)dst;
    (void)protocol;
    (void)payload_len;
    (void)id;
    return 0;
}

/* ---- transport layer: TCP ---------------------------------------------- */

uint16_t tcp_checksum(uint32_t src, uint32_t dst, const uint8_t *segment, size_t len)
{
    /* TODO(00.7): build the 12-byte pseudo-header (source, destination, a
     * zero byte, protocol 6, TCP length), add it, then add the segment, and
     * finish. The pseudo-header is never sent: both ends rebuild it from
     * the IP header, so a segment delivered to the wrong address fails its
     * checksum. */
    (void)src;
    (void)dst;
    (void)segment;
    (void)len;
    return 0;
}

size_t build_tcp_segment(uint8_t *buf, uint32_t src_ip, uint32_t dst_ip,
                         uint16_t src_port, uint16_t dst_port, uint32_t seq,
                         uint32_t ack, uint8_t flags, uint16_t window,
                         const uint8_t *payload, size_t payload_len)
{
    /* TODO(00.8): refuse (return 0) what wire.h says to refuse; write the
     * ports, seq, ack, data offset (high nibble of byte 12, in 32-bit
     * words), flags, window, a zero checksum and a zero urgent pointer;
     * copy the payload after the header; then compute the checksum over
     * the whole segment and store it. Return the segment's length. */
    (void)buf;
    (void)src_ip;
    (void)dst_ip;
    (void)src_port;
    (void)dst_port;
    (void)seq;
    (void)ack;
    (void)flags;
    (void)window;
    (void)payload;
    (void)payload_len;
    return 0;
}

/* ---- pcap files --------------------------------------------------------- */

int pcap_write_header(FILE *f)
{
    /* TODO(00.9): fill a 24-byte array (magic, version 2.4, zone 0,
     * accuracy 0, snaplen, link type Ethernet), all big-endian, and
     * fwrite() it; return -1 if fwrite() wrote less. */
    (void)f;
    return 0;
}

int pcap_write_record(FILE *f, uint32_t ts_sec, uint32_t ts_usec,
                      const uint8_t *frame, size_t len)
{
    /* TODO(00.10): refuse bad input first (errno = EINVAL, return -1, write
     * nothing), then write the 16-byte record header and the frame. */
    (void)f;
    (void)ts_sec;
    (void)ts_usec;
    (void)frame;
    (void)len;
    return 0;
}
