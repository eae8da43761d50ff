/* test_wire.c - Check unit tests of chapter 00's wire.c, one suite per unit:
 * byte order, checksum, ethernet, ipv4, tcp, pcap.
 *
 * Usage: test_wire          (exit status 0 when every test passes)
 *   CK_DEFAULT_TIMEOUT=<s>      seconds per test (Check's default is 4)
 *   CK_XML_LOG_FILE_NAME=<f>    also write the results as XML
 *   CK_RUN_SUITE / CK_RUN_CASE  run one suite / one test case only
 *
 * Built against the student's file (or the reference):
 *   gcc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic \
 *       -Ichapters/00_layered_model tests/check/test_wire.c \
 *       chapters/00_layered_model/wire.c $(pkg-config --cflags --libs check)
 *
 * Partner files: wire.h, wire.c. Exercise: chapter 00, the layered model.
 *
 * Every expected value below is written out as bytes, worked out outside
 * wire.c: RFC 1071's own example, a real IPv4 header with a known checksum,
 * and TCP segments whose checksums were computed with an independent Python
 * implementation. The tests never use wire.c's get_be16()/get_be32() to read
 * results back, so one broken function cannot hide another.
 */
#include <stdint.h>     /* uint8_t, uint16_t, uint32_t */
#include <stdio.h>      /* FILE, open_memstream, tmpfile, fread */
#include <stdlib.h>     /* EXIT_SUCCESS, EXIT_FAILURE, free, malloc */
#include <string.h>     /* memset, memcpy */

#include <check.h>

#include "wire.h"

/* Like ck_assert_uint_eq(), but prints both values in hex, the way
 * checksums and header fields are written. */
#define assert_hex_eq(X, Y) do { \
        unsigned long got_ = (unsigned long)(X), want_ = (unsigned long)(Y); \
        ck_assert_msg(got_ == want_, "Assertion '%s == %s' failed: got 0x%lX, expected 0x%lX", \
                      #X, #Y, got_, want_); \
    } while (0)

/* Reading helpers of the tests' own (see above). */
static uint32_t be16_at(const uint8_t *p)
{
    return ((uint32_t)p[0] << 8) | p[1];
}

static uint32_t be32_at(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}

/* ==== byte order ========================================================= */

START_TEST(test_put_be16_high_byte_first)
{
    uint8_t buf[2] = { 0, 0 };
    const uint8_t want[2] = { 0x12, 0x34 };

    put_be16(buf, 0x1234);
    ck_assert_mem_eq(buf, want, sizeof want);
}
END_TEST

START_TEST(test_put_be32_high_byte_first)
{
    uint8_t buf[4] = { 0, 0, 0, 0 };
    const uint8_t want[4] = { 0xA1, 0xB2, 0xC3, 0xD4 };

    put_be32(buf, 0xA1B2C3D4u);
    ck_assert_mem_eq(buf, want, sizeof want);
}
END_TEST

START_TEST(test_put_writes_only_its_bytes)
{
    /* Guard bytes on both sides must survive. */
    uint8_t buf[8];
    const uint8_t want16[4] = { 0xEE, 0xBE, 0xEF, 0xEE };
    const uint8_t want32[6] = { 0xEE, 0x00, 0x00, 0x00, 0x01, 0xEE };

    memset(buf, 0xEE, sizeof buf);
    put_be16(buf + 1, 0xBEEF);
    ck_assert_mem_eq(buf, want16, sizeof want16);

    memset(buf, 0xEE, sizeof buf);
    put_be32(buf + 1, 1);
    ck_assert_mem_eq(buf, want32, sizeof want32);
}
END_TEST

START_TEST(test_get_be16_reads_big_endian)
{
    const uint8_t a[2] = { 0x12, 0x34 };
    const uint8_t b[2] = { 0xFF, 0xFE };

    assert_hex_eq(get_be16(a), 0x1234);
    assert_hex_eq(get_be16(b), 0xFFFE);
}
END_TEST

START_TEST(test_get_be32_reads_big_endian)
{
    const uint8_t a[4] = { 0x01, 0x02, 0x03, 0x04 };
    const uint8_t b[4] = { 0xDE, 0xAD, 0xBE, 0xEF };   /* top bit set */

    assert_hex_eq(get_be32(a), 0x01020304u);
    assert_hex_eq(get_be32(b), 0xDEADBEEFu);
}
END_TEST

START_TEST(test_byte_order_round_trip)
{
    uint8_t buf[4];
    const uint16_t values16[] = { 0x0000, 0x0001, 0x00FF, 0x0100, 0x8000, 0xFFFF };
    const uint32_t values32[] = { 0x00000000u, 0x00000001u, 0x000000FFu,
                                  0x80000000u, 0x7FFFFFFFu, 0xFFFFFFFFu };
    size_t i;

    for (i = 0; i < sizeof values16 / sizeof values16[0]; i++) {
        put_be16(buf, values16[i]);
        assert_hex_eq(get_be16(buf), values16[i]);
    }
    for (i = 0; i < sizeof values32 / sizeof values32[0]; i++) {
        put_be32(buf, values32[i]);
        assert_hex_eq(get_be32(buf), values32[i]);
    }
}
END_TEST

static Suite *byte_order_suite(void)
{
    Suite *s = suite_create("byte order");
    TCase *tc = tcase_create("byte order");

    tcase_add_test(tc, test_put_be16_high_byte_first);
    tcase_add_test(tc, test_put_be32_high_byte_first);
    tcase_add_test(tc, test_put_writes_only_its_bytes);
    tcase_add_test(tc, test_get_be16_reads_big_endian);
    tcase_add_test(tc, test_get_be32_reads_big_endian);
    tcase_add_test(tc, test_byte_order_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

/* ==== checksum ============================================================ */

/* A real IPv4 header (UDP, 192.168.0.1 -> 192.168.0.199, total length 115,
 * DF, TTL 64) whose checksum field holds its correct checksum, 0xB861. */
static const uint8_t KNOWN_IPV4_HEADER[20] = {
    0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
    0xB8, 0x61, 0xC0, 0xA8, 0x00, 0x01, 0xC0, 0xA8, 0x00, 0xC7,
};

START_TEST(test_checksum_rfc1071_example)
{
    /* RFC 1071 section 3: these words sum to 0x2DDF0, which folds to
     * 0xDDF2; the checksum is its complement. */
    const uint8_t data[8] = { 0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7 };

    assert_hex_eq(inet_checksum(data, sizeof data), 0x220D);
}
END_TEST

START_TEST(test_checksum_carry_folding)
{
    /* 0xFFFF + 0x0001 = 0x10000: the carry must come back in as +1,
     * giving 0x0001, whose complement is 0xFFFE. */
    const uint8_t data[4] = { 0xFF, 0xFF, 0x00, 0x01 };

    assert_hex_eq(inet_checksum(data, sizeof data), 0xFFFE);
}
END_TEST

START_TEST(test_checksum_long_buffer)
{
    /* 100000 words of 0xFFFF, then 0x1234: the plain sum needs more than
     * 32 bits. In one's complement arithmetic 0xFFFF is "minus zero", so
     * the words add up to 0x1234 and the checksum is 0xEDCB. */
    const size_t len = 200002;
    uint8_t *data = malloc(len);

    ck_assert_ptr_nonnull(data);
    memset(data, 0xFF, len - 2);
    data[len - 2] = 0x12;
    data[len - 1] = 0x34;
    assert_hex_eq(inet_checksum(data, len), 0xEDCB);
    free(data);
}
END_TEST

START_TEST(test_checksum_odd_length)
{
    /* An odd last byte is the HIGH half of a word padded with zero:
     * 0x0102 + 0x0300 = 0x0402, complement 0xFBFD. */
    const uint8_t data[3] = { 0x01, 0x02, 0x03 };

    assert_hex_eq(inet_checksum(data, sizeof data), 0xFBFD);
}
END_TEST

START_TEST(test_checksum_empty)
{
    /* Nothing to add: the sum is 0 and its complement 0xFFFF. */
    const uint8_t data[1] = { 0x55 };

    assert_hex_eq(inet_checksum(data, 0), 0xFFFF);
}
END_TEST

START_TEST(test_checksum_known_ipv4_header)
{
    uint8_t header[20];

    /* With the checksum field zeroed, the checksum is the value that was
     * in the field... */
    memcpy(header, KNOWN_IPV4_HEADER, sizeof header);
    header[10] = 0;
    header[11] = 0;
    assert_hex_eq(inet_checksum(header, sizeof header), 0xB861);

    /* ...and with it in place, the whole header checksums to zero. */
    assert_hex_eq(inet_checksum(KNOWN_IPV4_HEADER, sizeof KNOWN_IPV4_HEADER), 0);
}
END_TEST

static Suite *checksum_suite(void)
{
    Suite *s = suite_create("checksum");
    TCase *tc = tcase_create("checksum");

    tcase_add_test(tc, test_checksum_rfc1071_example);
    tcase_add_test(tc, test_checksum_carry_folding);
    tcase_add_test(tc, test_checksum_long_buffer);
    tcase_add_test(tc, test_checksum_odd_length);
    tcase_add_test(tc, test_checksum_empty);
    tcase_add_test(tc, test_checksum_known_ipv4_header);
    suite_add_tcase(s, tc);
    return s;
}

/* ==== ethernet ============================================================ */

START_TEST(test_eth_header_layout)
{
    const uint8_t dst[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
    const uint8_t src[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
    const uint8_t want[ETH_HEADER_LEN] = {
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02,     /* destination first */
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01,     /* then source */
        0x08, 0x00,                             /* EtherType IPv4, big-endian */
    };
    uint8_t buf[ETH_HEADER_LEN + 2];

    memset(buf, 0xEE, sizeof buf);
    ck_assert_uint_eq(build_eth_header(buf, dst, src, ETHERTYPE_IPV4), 14);
    ck_assert_mem_eq(buf, want, sizeof want);
    ck_assert_uint_eq(buf[ETH_HEADER_LEN], 0xEE);   /* nothing written past it */
}
END_TEST

START_TEST(test_eth_header_other_ethertype)
{
    const uint8_t dst[6] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
    const uint8_t src[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
    const uint8_t want[ETH_HEADER_LEN] = {
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0x02, 0x11, 0x22, 0x33, 0x44, 0x55,
        0x08, 0x06,                             /* ARP */
    };
    uint8_t buf[ETH_HEADER_LEN];

    ck_assert_uint_eq(build_eth_header(buf, dst, src, 0x0806), 14);
    ck_assert_mem_eq(buf, want, sizeof want);
}
END_TEST

static Suite *ethernet_suite(void)
{
    Suite *s = suite_create("ethernet");
    TCase *tc = tcase_create("ethernet");

    tcase_add_test(tc, test_eth_header_layout);
    tcase_add_test(tc, test_eth_header_other_ethertype);
    suite_add_tcase(s, tc);
    return s;
}

/* ==== ipv4 ================================================================ */

START_TEST(test_ipv4_known_header)
{
    /* The real header above: 95 bytes of payload, id 0, protocol 17. The
     * buffer starts full of junk: nothing may depend on what it held. */
    uint8_t buf[IPV4_HEADER_LEN];

    memset(buf, 0xEE, sizeof buf);
    ck_assert_uint_eq(build_ipv4_header(buf, 0xC0A80001u, 0xC0A800C7u, 17, 95, 0), 20);
    ck_assert_mem_eq(buf, KNOWN_IPV4_HEADER, sizeof KNOWN_IPV4_HEADER);
}
END_TEST

START_TEST(test_ipv4_total_length_counts_header)
{
    /* A TCP segment of 25 bytes makes a datagram of 45. */
    uint8_t buf[IPV4_HEADER_LEN];

    ck_assert_uint_eq(build_ipv4_header(buf, CLIENT_IP, SERVER_IP, IP_PROTO_TCP, 25, 7), 20);
    ck_assert_uint_eq(be16_at(buf + 2), 45);
}
END_TEST

START_TEST(test_ipv4_fields)
{
    uint8_t buf[IPV4_HEADER_LEN];

    ck_assert_uint_eq(build_ipv4_header(buf, CLIENT_IP, SERVER_IP, IP_PROTO_TCP,
                                        20, 0xABCD), 20);
    ck_assert_uint_eq(buf[0], 0x45);                /* version 4, IHL 5 */
    ck_assert_uint_eq(buf[1], 0x00);
    ck_assert_uint_eq(be16_at(buf + 4), 0xABCD);    /* identification */
    ck_assert_uint_eq(be16_at(buf + 6), 0x4000);    /* DF, offset 0 */
    ck_assert_uint_eq(buf[8], 64);                  /* TTL */
    ck_assert_uint_eq(buf[9], 6);                   /* TCP */
    ck_assert_uint_eq(be32_at(buf + 12), 0xC0000201u);  /* 192.0.2.1 */
    ck_assert_uint_eq(be32_at(buf + 16), 0xC0000202u);  /* 192.0.2.2 */
}
END_TEST

START_TEST(test_ipv4_checksum_verifies)
{
    /* A header holding its correct checksum sums to zero; and the field
     * must not be left empty. */
    uint8_t buf[IPV4_HEADER_LEN];
    const uint8_t zero_csum[2] = { 0, 0 };
    uint16_t ids[] = { 0, 1, 0x8000, 0xFFFF };
    size_t i;

    memset(buf, 0xEE, sizeof buf);
    for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        ck_assert_uint_eq(build_ipv4_header(buf, CLIENT_IP, SERVER_IP, IP_PROTO_TCP,
                                            (uint16_t)(20 + i * 333), ids[i]), 20);
        assert_hex_eq(inet_checksum(buf, sizeof buf), 0);
        ck_assert_mem_ne(buf + 10, zero_csum, 2);
    }
}
END_TEST

START_TEST(test_ipv4_rejects_oversized_payload)
{
    uint8_t buf[IPV4_HEADER_LEN];

    /* 65515 + 20 = 65535 still fits in the 16-bit total length... */
    ck_assert_uint_eq(build_ipv4_header(buf, CLIENT_IP, SERVER_IP, IP_PROTO_TCP,
                                        65515, 1), 20);
    ck_assert_uint_eq(be16_at(buf + 2), 65535);
    /* ...65516 + 20 does not. */
    ck_assert_uint_eq(build_ipv4_header(buf, CLIENT_IP, SERVER_IP, IP_PROTO_TCP,
                                        65516, 1), 0);
}
END_TEST

static Suite *ipv4_suite(void)
{
    Suite *s = suite_create("ipv4");
    TCase *tc = tcase_create("ipv4");

    tcase_add_test(tc, test_ipv4_known_header);
    tcase_add_test(tc, test_ipv4_total_length_counts_header);
    tcase_add_test(tc, test_ipv4_fields);
    tcase_add_test(tc, test_ipv4_checksum_verifies);
    tcase_add_test(tc, test_ipv4_rejects_oversized_payload);
    suite_add_tcase(s, tc);
    return s;
}

/* ==== tcp ================================================================= */

/* 10.0.0.1:12345 -> 10.0.0.2:80, seq 0x01020304, ack 0xA0B0C0D0, PSH+ACK,
 * window 0xFAF0, payload "hello" (odd length): checksum 0xC6F1. */
#define VEC_SRC     0x0A000001u
#define VEC_DST     0x0A000002u
static const uint8_t VEC_SEGMENT[25] = {
    0x30, 0x39, 0x00, 0x50,                 /* ports 12345 -> 80 */
    0x01, 0x02, 0x03, 0x04,                 /* seq */
    0xA0, 0xB0, 0xC0, 0xD0,                 /* ack */
    0x50, 0x18,                             /* data offset 5; PSH+ACK */
    0xFA, 0xF0,                             /* window */
    0xC6, 0xF1,                             /* checksum */
    0x00, 0x00,                             /* urgent pointer */
    'h', 'e', 'l', 'l', 'o',
};

/* The exercise's first SYN: 192.0.2.1:49152 -> 192.0.2.2:9190,
 * seq 4294967290, ack 0, window 64240, no payload: checksum 0x4D0C. */
static const uint8_t VEC_SYN[20] = {
    0xC0, 0x00, 0x23, 0xE6, 0xFF, 0xFF, 0xFF, 0xFA, 0x00, 0x00,
    0x00, 0x00, 0x50, 0x02, 0xFA, 0xF0, 0x4D, 0x0C, 0x00, 0x00,
};

START_TEST(test_tcp_checksum_vector)
{
    uint8_t seg[sizeof VEC_SEGMENT];

    memcpy(seg, VEC_SEGMENT, sizeof seg);
    seg[16] = 0;
    seg[17] = 0;
    assert_hex_eq(tcp_checksum(VEC_SRC, VEC_DST, seg, sizeof seg), 0xC6F1);
    /* With the checksum in place, the sum comes to zero. */
    assert_hex_eq(tcp_checksum(VEC_SRC, VEC_DST, VEC_SEGMENT, sizeof VEC_SEGMENT), 0);
}
END_TEST

START_TEST(test_tcp_checksum_covers_pseudo_header)
{
    /* Same segment, sent to 10.0.0.3 instead: only the pseudo-header
     * differs, and so must the checksum (0xC6F0). */
    uint8_t seg[sizeof VEC_SEGMENT];

    memcpy(seg, VEC_SEGMENT, sizeof seg);
    seg[16] = 0;
    seg[17] = 0;
    assert_hex_eq(tcp_checksum(VEC_SRC, 0x0A000003u, seg, sizeof seg), 0xC6F0);
}
END_TEST

START_TEST(test_tcp_segment_known_bytes)
{
    uint8_t buf[sizeof VEC_SEGMENT + 2];

    memset(buf, 0xEE, sizeof buf);
    ck_assert_uint_eq(build_tcp_segment(buf, VEC_SRC, VEC_DST, 12345, 80, 0x01020304u,
                                        0xA0B0C0D0u, TCP_PSH | TCP_ACK, 0xFAF0,
                                        (const uint8_t *)"hello", 5), 25);
    ck_assert_mem_eq(buf, VEC_SEGMENT, sizeof VEC_SEGMENT);
    ck_assert_uint_eq(buf[sizeof VEC_SEGMENT], 0xEE);   /* nothing written past it */
}
END_TEST

START_TEST(test_tcp_syn_known_bytes)
{
    uint8_t buf[TCP_HEADER_LEN];

    memset(buf, 0xEE, sizeof buf);
    ck_assert_uint_eq(build_tcp_segment(buf, CLIENT_IP, SERVER_IP, CLIENT_PORT,
                                        SERVER_PORT, 4294967290u, 0, TCP_SYN, 64240,
                                        NULL, 0), 20);
    ck_assert_mem_eq(buf, VEC_SYN, sizeof VEC_SYN);
}
END_TEST

START_TEST(test_tcp_segment_checksums_to_zero)
{
    /* Even and odd payload lengths, and the largest sequence numbers. */
    uint8_t payload[TCP_MAX_PAYLOAD];
    uint8_t buf[TCP_HEADER_LEN + TCP_MAX_PAYLOAD];
    const size_t lengths[] = { 0, 1, 2, 199, 200, TCP_MAX_PAYLOAD - 1, TCP_MAX_PAYLOAD };
    size_t i, k;

    for (k = 0; k < sizeof payload; k++)
        payload[k] = (uint8_t)(k * 7 + 3);
    for (i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        size_t len = lengths[i];

        ck_assert_uint_eq(build_tcp_segment(buf, SERVER_IP, CLIENT_IP, SERVER_PORT,
                                            CLIENT_PORT, 0xFFFFFFFFu, 0xFFFFFFFEu,
                                            TCP_PSH | TCP_ACK, 65535, payload, len),
                          TCP_HEADER_LEN + len);
        assert_hex_eq(tcp_checksum(SERVER_IP, CLIENT_IP, buf, TCP_HEADER_LEN + len), 0);
        ck_assert_uint_eq(buf[12], 0x50);               /* data offset 5 words */
        if (len > 0)
            ck_assert_mem_eq(buf + TCP_HEADER_LEN, payload, len);
    }
}
END_TEST

START_TEST(test_tcp_rejects_oversized_payload)
{
    static uint8_t payload[65496];
    static uint8_t buf[TCP_HEADER_LEN + sizeof payload];

    /* 20 + 20 + 65495 = 65535 bytes: the largest IPv4 datagram... */
    ck_assert_uint_eq(build_tcp_segment(buf, CLIENT_IP, SERVER_IP, 1, 2, 0, 0, TCP_ACK,
                                        1, payload, 65495), TCP_HEADER_LEN + 65495);
    /* ...one more byte does not fit in any. */
    ck_assert_uint_eq(build_tcp_segment(buf, CLIENT_IP, SERVER_IP, 1, 2, 0, 0, TCP_ACK,
                                        1, payload, 65496), 0);
}
END_TEST

static Suite *tcp_suite(void)
{
    Suite *s = suite_create("tcp");
    TCase *tc = tcase_create("tcp");

    tcase_add_test(tc, test_tcp_checksum_vector);
    tcase_add_test(tc, test_tcp_checksum_covers_pseudo_header);
    tcase_add_test(tc, test_tcp_segment_known_bytes);
    tcase_add_test(tc, test_tcp_syn_known_bytes);
    tcase_add_test(tc, test_tcp_segment_checksums_to_zero);
    tcase_add_test(tc, test_tcp_rejects_oversized_payload);
    suite_add_tcase(s, tc);
    return s;
}

/* ==== pcap ================================================================ */

/* The file header, big-endian: magic, version 2.4, zone 0, accuracy 0,
 * snaplen 65535, link type 1 (Ethernet). */
static const uint8_t PCAP_HEADER_BYTES[24] = {
    0xA1, 0xB2, 0xC3, 0xD4, 0x00, 0x02, 0x00, 0x04,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01,
};

START_TEST(test_pcap_header_bytes)
{
    char *data = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&data, &size);

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(pcap_write_header(f), 0);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_uint_eq(size, 24);
    ck_assert_mem_eq(data, PCAP_HEADER_BYTES, sizeof PCAP_HEADER_BYTES);
    ck_assert_uint_eq(be32_at((const uint8_t *)data + 20), 1);  /* link type: Ethernet */
    free(data);
}
END_TEST

START_TEST(test_pcap_record_bytes)
{
    const uint8_t frame[3] = { 0xAA, 0xBB, 0xCC };
    const uint8_t want[16 + 3] = {
        0x65, 0x92, 0x00, 0x80,     /* seconds: 1704067200 */
        0x00, 0x0F, 0x42, 0x3F,     /* microseconds: 999999 */
        0x00, 0x00, 0x00, 0x03,     /* captured length */
        0x00, 0x00, 0x00, 0x03,     /* original length */
        0xAA, 0xBB, 0xCC,
    };
    char *data = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&data, &size);

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(pcap_write_record(f, 1704067200u, 999999, frame, sizeof frame), 0);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_uint_eq(size, sizeof want);
    ck_assert_mem_eq(data, want, sizeof want);
    free(data);
}
END_TEST

START_TEST(test_pcap_record_rejects_bad_input)
{
    static uint8_t frame[PCAP_SNAPLEN + 1];
    char *data = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&data, &size);

    ck_assert_ptr_nonnull(f);
    /* A million microseconds is a whole second: not a valid timestamp. */
    ck_assert_int_eq(pcap_write_record(f, 0, 1000000, frame, 1), -1);
    /* Longer than the snaplen announced in the file header. */
    ck_assert_int_eq(pcap_write_record(f, 0, 0, frame, PCAP_SNAPLEN + 1), -1);
    /* Neither wrote anything; a good record still can be written. */
    ck_assert_int_eq(pcap_write_record(f, 0, 0, frame, 1), 0);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_uint_eq(size, 16 + 1);
    free(data);
}
END_TEST

START_TEST(test_pcap_whole_file)
{
    /* Header, then two records, through a real FILE: the sizes add up and
     * each record header says how long its frame is. */
    const uint8_t first[60] = { 1 };
    const uint8_t second[54] = { 2 };
    uint8_t got[24 + 16 + 60 + 16 + 54 + 1];
    size_t n;
    FILE *f = tmpfile();

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(pcap_write_header(f), 0);
    ck_assert_int_eq(pcap_write_record(f, 10, 0, first, sizeof first), 0);
    ck_assert_int_eq(pcap_write_record(f, 10, 1000, second, sizeof second), 0);
    rewind(f);
    n = fread(got, 1, sizeof got, f);
    ck_assert_int_eq(fclose(f), 0);

    ck_assert_uint_eq(n, sizeof got - 1);
    ck_assert_mem_eq(got, PCAP_HEADER_BYTES, 24);
    ck_assert_uint_eq(be32_at(got + 24 + 8), 60);
    ck_assert_uint_eq(got[24 + 16], 1);
    ck_assert_uint_eq(be32_at(got + 24 + 16 + 60 + 4), 1000);
    ck_assert_uint_eq(be32_at(got + 24 + 16 + 60 + 8), 54);
    ck_assert_uint_eq(got[24 + 16 + 60 + 16], 2);
}
END_TEST

static Suite *pcap_suite(void)
{
    Suite *s = suite_create("pcap");
    TCase *tc = tcase_create("pcap");

    tcase_add_test(tc, test_pcap_header_bytes);
    tcase_add_test(tc, test_pcap_record_bytes);
    tcase_add_test(tc, test_pcap_record_rejects_bad_input);
    tcase_add_test(tc, test_pcap_whole_file);
    suite_add_tcase(s, tc);
    return s;
}

/* ==== main ================================================================ */

int main(void)
{
    SRunner *sr = srunner_create(byte_order_suite());
    int failed;

    srunner_add_suite(sr, checksum_suite());
    srunner_add_suite(sr, ethernet_suite());
    srunner_add_suite(sr, ipv4_suite());
    srunner_add_suite(sr, tcp_suite());
    srunner_add_suite(sr, pcap_suite());

    /* Each test in its own process: a crash in the code under test fails
     * that test only, and the others still run. */
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_ENV);    /* CK_VERBOSITY chooses; CK_NORMAL if unset */
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
