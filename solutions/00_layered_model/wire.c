/* wire.c - build Ethernet, IPv4 and TCP headers by hand; write pcap files.
 *
 * No Usage line: this is a library, not a program. tcp_conversation.c uses
 * it to write a whole TCP conversation, and tests/check/test_wire.c tests
 * each function on its own:
 *   make check CHAPTER=00_layered_model
 *
 * Partner files: wire.h (what each function must do), tcp_conversation.c.
 * Exercise: chapter 00, the layered model.
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
    p[0] = (uint8_t)(v >> 8);       /* most significant byte first */
    p[1] = (uint8_t)(v & 0xFF);
}

void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)((v >> 16) & 0xFF);
    p[2] = (uint8_t)((v >> 8) & 0xFF);
    p[3] = (uint8_t)(v & 0xFF);
}

uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

uint32_t get_be32(const uint8_t *p)
{
    /* Cast before shifting: p[0] would otherwise be promoted to int, and
     * shifting a byte >= 0x80 left by 24 overflows a signed int. */
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
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
    size_t i;

    for (i = 0; i + 1 < len; i += 2)
        sum += get_be16(data + i);
    if (len % 2 == 1)
        sum += (uint64_t)data[len - 1] << 8;
    return sum;
}

/* One's complement addition sends each carry out of bit 15 back into bit 0
 * ("end-around carry"). Adding the high part to the low part can itself
 * carry, so fold until nothing is left above 16 bits; then complement. */
static uint16_t checksum_finish(uint64_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return (uint16_t)~sum;
}

uint16_t inet_checksum(const uint8_t *data, size_t len)
{
    return checksum_finish(checksum_add(0, data, len));
}

/* ---- link layer: Ethernet II ------------------------------------------- */

size_t build_eth_header(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6],
                        uint16_t ethertype)
{
    /* The destination comes first, so a network card can decide whether the
     * frame is for it as soon as the first six bytes have arrived. */
    memcpy(buf, dst, 6);
    memcpy(buf + 6, src, 6);
    put_be16(buf + 12, ethertype);
    return ETH_HEADER_LEN;
}

/* ---- internet layer: IPv4 ---------------------------------------------- */

size_t build_ipv4_header(uint8_t *buf, uint32_t src, uint32_t dst, uint8_t protocol,
                         uint16_t payload_len, uint16_t id)
{
    /* The total length field counts the header too, and has 16 bits. */
    if (payload_len > 0xFFFF - IPV4_HEADER_LEN)
        return 0;

    buf[0] = (4 << 4) | (IPV4_HEADER_LEN / 4);  /* version 4, IHL in 32-bit words */
    buf[1] = 0;                                 /* DSCP and ECN: ordinary traffic */
    put_be16(buf + 2, (uint16_t)(IPV4_HEADER_LEN + payload_len));
    put_be16(buf + 4, id);                      /* groups the fragments of one datagram */
    put_be16(buf + 6, 0x4000);                  /* flags: DF; fragment offset 0 */
    buf[8] = 64;                                /* TTL: hops before a router drops it */
    buf[9] = protocol;                          /* who gets the payload: 6 = TCP */
    put_be32(buf + 12, src);
    put_be32(buf + 16, dst);

    /* The checksum covers the header only (TCP protects its own data). It
     * is computed over the header with the checksum field itself zero, so
     * zero the field first, then fill it in last. */
    put_be16(buf + 10, 0);
    put_be16(buf + 10, inet_checksum(buf, IPV4_HEADER_LEN));
    return IPV4_HEADER_LEN;
}

/* ---- transport layer: TCP ---------------------------------------------- */

uint16_t tcp_checksum(uint32_t src, uint32_t dst, const uint8_t *segment, size_t len)
{
    uint8_t pseudo[12];
    uint64_t sum;

    /* The pseudo-header is never sent: both ends rebuild it from the IP
     * header. Including it in the sum makes a segment delivered to the
     * wrong address (or handed to the wrong protocol) fail its checksum. */
    put_be32(pseudo, src);
    put_be32(pseudo + 4, dst);
    pseudo[8] = 0;
    pseudo[9] = IP_PROTO_TCP;
    put_be16(pseudo + 10, (uint16_t)len);

    sum = checksum_add(0, pseudo, sizeof pseudo);   /* 12 bytes: even */
    sum = checksum_add(sum, segment, len);          /* may be odd: added last */
    return checksum_finish(sum);
}

size_t build_tcp_segment(uint8_t *buf, uint32_t src_ip, uint32_t dst_ip,
                         uint16_t src_port, uint16_t dst_port, uint32_t seq,
                         uint32_t ack, uint8_t flags, uint16_t window,
                         const uint8_t *payload, size_t payload_len)
{
    size_t seg_len;

    /* The whole segment must fit in one IPv4 datagram. */
    if (payload_len > 0xFFFF - IPV4_HEADER_LEN - TCP_HEADER_LEN)
        return 0;
    if (payload == NULL && payload_len > 0)
        return 0;
    seg_len = TCP_HEADER_LEN + payload_len;

    put_be16(buf, src_port);
    put_be16(buf + 2, dst_port);
    put_be32(buf + 4, seq);         /* number of this segment's first byte */
    put_be32(buf + 8, ack);         /* next byte expected from the peer */
    buf[12] = (TCP_HEADER_LEN / 4) << 4;    /* data offset (high nibble), in words */
    buf[13] = flags;
    put_be16(buf + 14, window);     /* how many more bytes the sender can take */
    put_be16(buf + 16, 0);          /* checksum: zero while it is computed */
    put_be16(buf + 18, 0);          /* urgent pointer: unused */
    if (payload_len > 0)
        memcpy(buf + TCP_HEADER_LEN, payload, payload_len);

    /* Unlike the IPv4 checksum, this one covers the data as well. */
    put_be16(buf + 16, tcp_checksum(src_ip, dst_ip, buf, seg_len));
    return seg_len;
}

/* ---- pcap files --------------------------------------------------------- */

int pcap_write_header(FILE *f)
{
    uint8_t hdr[PCAP_FILE_HEADER_LEN];

    put_be32(hdr, PCAP_MAGIC);
    put_be16(hdr + 4, PCAP_VERSION_MAJOR);
    put_be16(hdr + 6, PCAP_VERSION_MINOR);
    put_be32(hdr + 8, 0);                   /* time zone: timestamps are UTC */
    put_be32(hdr + 12, 0);                  /* timestamp accuracy: unused */
    put_be32(hdr + 16, PCAP_SNAPLEN);       /* longest frame kept whole */
    put_be32(hdr + 20, PCAP_LINKTYPE_ETHERNET); /* how to read each frame */

    if (fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr)
        return -1;
    return 0;
}

int pcap_write_record(FILE *f, uint32_t ts_sec, uint32_t ts_usec,
                      const uint8_t *frame, size_t len)
{
    uint8_t hdr[PCAP_RECORD_HEADER_LEN];

    /* Refuse what a reader would reject, before writing anything. */
    if (ts_usec > 999999 || len > PCAP_SNAPLEN) {
        errno = EINVAL;
        return -1;
    }

    put_be32(hdr, ts_sec);
    put_be32(hdr + 4, ts_usec);
    put_be32(hdr + 8, (uint32_t)len);       /* bytes saved in the file */
    put_be32(hdr + 12, (uint32_t)len);      /* bytes that were on the wire */

    /* fwrite() returns fewer items than asked only on an error. */
    if (fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr)
        return -1;
    if (len > 0 && fwrite(frame, 1, len, f) != len)
        return -1;
    return 0;
}
