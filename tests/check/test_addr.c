/* test_addr.c - Check unit tests of chapter 03's addr.c: byte order, the
 * IPv4 parser and formatter, and fill_sockaddr().
 *
 * Usage: test_addr          (exit status 0 when every test passes)
 *   CK_DEFAULT_TIMEOUT=<s>      seconds per test (Check's default is 4)
 *   CK_XML_LOG_FILE_NAME=<f>    also write the results as XML
 *   CK_RUN_SUITE / CK_RUN_CASE  run one suite / one test case only
 *
 * Built against the student's file (or the reference):
 *   gcc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic \
 *       -Ichapters/03_addresses tests/check/test_addr.c \
 *       chapters/03_addresses/addr.c $(pkg-config --cflags --libs check)
 *
 * Partner files: addr.h, addr.c. Exercise: chapter 03, addresses.
 *
 * Two kinds of test. Hand-written cases, each expected value written out
 * as bytes. And differential tests: the C library's own inet_pton() and
 * inet_ntop() are the judges, on tens of thousands of strings made from a
 * grammar of hostile inputs (empty parts, leading zeros, 256, 4294967296,
 * signs, spaces, tabs, 0x, trailing junk, overlong strings) with a fixed
 * seed, so every run tries the same strings and a failure names the input
 * that failed. (An embedded NUL cannot be tried: a C string ends at its
 * first NUL, so "1.2.3.4\0junk" IS "1.2.3.4" to both functions.)
 *
 * addr.c must do the work itself. This file defines its own htons(),
 * inet_pton() and the rest: the linker resolves addr.c's calls to them
 * here, before the C library, so each one records that it was called and
 * then does the real work (found with dlsym(RTLD_NEXT), the next
 * definition after ours). Every test then asserts that addr.c called none.
 */
#define _GNU_SOURCE     /* RTLD_NEXT in <dlfcn.h> */
#include <arpa/inet.h>  /* inet_pton, inet_ntop, htons, ... (the real ones) */
#include <dlfcn.h>      /* dlsym, RTLD_NEXT */
#include <errno.h>      /* errno, ENOSPC */
#include <netinet/in.h> /* struct in_addr, struct sockaddr_in, AF_INET */
#include <stdint.h>     /* uint8_t, uint16_t, uint32_t, uint64_t */
#include <stdio.h>      /* snprintf */
#include <stdlib.h>     /* EXIT_SUCCESS, EXIT_FAILURE, abort */
#include <string.h>     /* memcmp, memcpy, memset, strlen */

#include <check.h>

#include "addr.h"

/* With optimisation glibc makes these macros; we define the functions. */
#undef htons
#undef htonl
#undef ntohs
#undef ntohl

/* ==== the forbidden functions ============================================= */

static const char *forbidden_called;    /* the first one addr.c called */

/* The C library's own functions, found once by find_libc(). */
static uint16_t (*libc_htons)(uint16_t);
static uint32_t (*libc_htonl)(uint32_t);
static uint16_t (*libc_ntohs)(uint16_t);
static uint32_t (*libc_ntohl)(uint32_t);
static int (*libc_inet_pton)(int, const char *, void *);
static const char *(*libc_inet_ntop)(int, const void *, char *, socklen_t);
static int (*libc_inet_aton)(const char *, struct in_addr *);
static in_addr_t (*libc_inet_addr)(const char *);
static in_addr_t (*libc_inet_network)(const char *);
static char *(*libc_inet_ntoa)(struct in_addr);

/* dlsym() returns a void *; ISO C has no conversion from it to a pointer
 * to function, so store it through the pointer's own bytes (as POSIX's
 * dlsym() page suggests). */
#define FIND(var, name) do { \
        void *fn_ = dlsym(RTLD_NEXT, name); \
        if (fn_ == NULL) \
            abort(); \
        memcpy(&(var), &fn_, sizeof fn_); \
    } while (0)

static void find_libc(void)
{
    FIND(libc_htons, "htons");
    FIND(libc_htonl, "htonl");
    FIND(libc_ntohs, "ntohs");
    FIND(libc_ntohl, "ntohl");
    FIND(libc_inet_pton, "inet_pton");
    FIND(libc_inet_ntop, "inet_ntop");
    FIND(libc_inet_aton, "inet_aton");
    FIND(libc_inet_addr, "inet_addr");
    FIND(libc_inet_network, "inet_network");
    FIND(libc_inet_ntoa, "inet_ntoa");
    forbidden_called = NULL;
}

/* Each one: note the call, then do what the C library does. */
#define NOTE(name) (forbidden_called = forbidden_called ? forbidden_called : #name)

uint16_t htons(uint16_t x) { NOTE(htons); return libc_htons(x); }
uint32_t htonl(uint32_t x) { NOTE(htonl); return libc_htonl(x); }
uint16_t ntohs(uint16_t x) { NOTE(ntohs); return libc_ntohs(x); }
uint32_t ntohl(uint32_t x) { NOTE(ntohl); return libc_ntohl(x); }

int inet_pton(int af, const char *restrict src, void *restrict dst)
{
    NOTE(inet_pton);
    return libc_inet_pton(af, src, dst);
}

const char *inet_ntop(int af, const void *restrict src, char *restrict dst, socklen_t size)
{
    NOTE(inet_ntop);
    return libc_inet_ntop(af, src, dst, size);
}

int inet_aton(const char *cp, struct in_addr *inp)
{
    NOTE(inet_aton);
    return libc_inet_aton(cp, inp);
}

in_addr_t inet_addr(const char *cp)
{
    NOTE(inet_addr);
    return libc_inet_addr(cp);
}

in_addr_t inet_network(const char *cp)
{
    NOTE(inet_network);
    return libc_inet_network(cp);
}

char *inet_ntoa(struct in_addr in)
{
    NOTE(inet_ntoa);
    return libc_inet_ntoa(in);
}

#define assert_own_code() \
    ck_assert_msg(forbidden_called == NULL, \
                  "addr.c called %s(): this chapter's functions must do that work " \
                  "themselves (addr.h lists the functions addr.c may not call)", \
                  forbidden_called)

/* ==== helpers ============================================================== */

/* Like ck_assert_uint_eq(), but prints both values in hex. */
#define assert_hex_eq(X, Y) do { \
        unsigned long got_ = (unsigned long)(X), want_ = (unsigned long)(Y); \
        ck_assert_msg(got_ == want_, "Assertion '%s == %s' failed: got 0x%lX, expected 0x%lX", \
                      #X, #Y, got_, want_); \
    } while (0)

/* ck_assert_msg() reports every assertion that passes to the parent
 * process (a write() each, in fork mode); a loop of 100000 of them costs a
 * second. This one speaks only when the assertion fails. */
#define check_msg(cond, ...) do { \
        if (!(cond)) \
            ck_abort_msg(__VA_ARGS__); \
    } while (0)

/* s as a C string literal, escaped, cut after about 100 characters. */
static const char *escaped(const char *s, char *out, size_t size)
{
    size_t n = 0, len = strlen(s), i;

    out[n++] = '"';
    for (i = 0; i < len && n + 8 < size; i++) {
        unsigned char c = (unsigned char)s[i];

        if (i == 100) {
            n += (size_t)snprintf(out + n, size - n, "...\" (%zu characters)", len);
            return out;
        }
        if (c == '"' || c == '\\')
            n += (size_t)snprintf(out + n, size - n, "\\%c", c);
        else if (c == '\t')
            n += (size_t)snprintf(out + n, size - n, "\\t");
        else if (c == '\n')
            n += (size_t)snprintf(out + n, size - n, "\\n");
        else if (c < 0x20 || c > 0x7E)
            n += (size_t)snprintf(out + n, size - n, "\\x%02X", c);
        else
            out[n++] = (char)c;
    }
    snprintf(out + n, size - n, "\"");
    return out;
}

/* All n bytes of buf as a C literal, NULs included ("1.2.3.4\0ZZZ"). */
static const char *all_bytes(const char *buf, size_t n, char *out, size_t size)
{
    size_t len = 0, i;

    out[len++] = '"';
    for (i = 0; i < n && len + 6 < size; i++) {
        unsigned char c = (unsigned char)buf[i];

        if (c == '\0')
            len += (size_t)snprintf(out + len, size - len, "\\0");
        else if (c < 0x20 || c > 0x7E || c == '"' || c == '\\')
            len += (size_t)snprintf(out + len, size - len, "\\x%02X", c);
        else
            out[len++] = (char)c;
    }
    snprintf(out + len, size - len, "\"");
    return out;
}

/* The four bytes of an address as "a.b.c.d" (our own formatter). */
static const char *quad(const struct in_addr *a, char *out, size_t size)
{
    uint8_t b[4];

    memcpy(b, &a->s_addr, 4);
    snprintf(out, size, "%u.%u.%u.%u (bytes %02X %02X %02X %02X)",
             b[0], b[1], b[2], b[3], b[0], b[1], b[2], b[3]);
    return out;
}

/* A small random generator of our own (splitmix64): the same numbers on
 * every machine and C library, so a failing input fails every time. */
static uint64_t rng_state;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static unsigned below(unsigned n)
{
    return (unsigned)(rng() % n);
}

/* Under valgrind (make valgrind) the harness sets WORKBOOK_CHECK_QUICK:
 * memcheck is some twenty times slower, and finds a bad memory access on
 * the first inputs of each kind, so the long loops try one input in 20. */
static long step(void)
{
    return getenv("WORKBOOK_CHECK_QUICK") != NULL ? 20 : 1;
}

/* ==== byte order ========================================================= */

START_TEST(test_to_net16_bytes)
{
    /* Network byte order: the most significant byte first IN MEMORY. */
    const uint16_t values[] = { 0x1234, 0x0001, 0xFF00, 0xABCD, 0x23E6 };
    size_t i;

    for (i = 0; i < sizeof values / sizeof values[0]; i++) {
        uint16_t net = to_net16(values[i]);
        uint8_t got[2];
        const uint8_t want[2] = { (uint8_t)(values[i] >> 8), (uint8_t)values[i] };

        memcpy(got, &net, 2);
        ck_assert_msg(memcmp(got, want, 2) == 0,
                      "to_net16(0x%04X) is stored as the bytes %02X %02X, expected %02X %02X "
                      "(most significant first)", values[i], got[0], got[1], want[0], want[1]);
    }
    assert_own_code();
}
END_TEST

START_TEST(test_to_net32_bytes)
{
    const uint32_t values[] = { 0x12345678u, 0xC0A80001u, 0x7F000001u, 0x80000001u,
                                0x000000FFu, 0xFF000000u };
    size_t i;

    for (i = 0; i < sizeof values / sizeof values[0]; i++) {
        uint32_t net = to_net32(values[i]);
        uint8_t got[4];
        const uint8_t want[4] = { (uint8_t)(values[i] >> 24), (uint8_t)(values[i] >> 16),
                                  (uint8_t)(values[i] >> 8), (uint8_t)values[i] };

        memcpy(got, &net, 4);
        ck_assert_msg(memcmp(got, want, 4) == 0,
                      "to_net32(0x%08X) is stored as the bytes %02X %02X %02X %02X, expected "
                      "%02X %02X %02X %02X (most significant first)", values[i],
                      got[0], got[1], got[2], got[3], want[0], want[1], want[2], want[3]);
    }
    assert_own_code();
}
END_TEST

START_TEST(test_from_net16_bytes)
{
    const uint8_t bytes[][2] = { { 0x12, 0x34 }, { 0x23, 0xE6 }, { 0x00, 0x50 },
                                 { 0xFF, 0x01 } };
    size_t i;

    for (i = 0; i < sizeof bytes / sizeof bytes[0]; i++) {
        uint16_t net;

        memcpy(&net, bytes[i], 2);
        assert_hex_eq(from_net16(net), (bytes[i][0] << 8) | bytes[i][1]);
    }
    assert_own_code();
}
END_TEST

START_TEST(test_from_net32_bytes)
{
    const uint8_t bytes[][4] = { { 0x12, 0x34, 0x56, 0x78 }, { 0xC0, 0xA8, 0x00, 0x01 },
                                 { 0x7F, 0x00, 0x00, 0x01 }, { 0xDE, 0xAD, 0xBE, 0xEF } };
    size_t i;

    for (i = 0; i < sizeof bytes / sizeof bytes[0]; i++) {
        uint32_t net;
        uint32_t want = ((uint32_t)bytes[i][0] << 24) | ((uint32_t)bytes[i][1] << 16) |
                        ((uint32_t)bytes[i][2] << 8) | bytes[i][3];

        memcpy(&net, bytes[i], 4);
        assert_hex_eq(from_net32(net), want);
    }
    assert_own_code();
}
END_TEST

START_TEST(test_byte_order_matches_libc)
{
    /* Every 16-bit value, and many 32-bit ones, against htons() and the
     * rest as the C library has them on this machine. */
    uint32_t v;
    int i;

    for (v = 0; v <= 0xFFFF; v += (uint32_t)step()) {
        uint16_t h = (uint16_t)v;

        check_msg(to_net16(h) == libc_htons(h), "to_net16(0x%04X) = 0x%04X, htons() "
                      "gives 0x%04X", h, to_net16(h), libc_htons(h));
        check_msg(from_net16(h) == libc_ntohs(h), "from_net16(0x%04X) = 0x%04X, ntohs() "
                      "gives 0x%04X", h, from_net16(h), libc_ntohs(h));
    }
    rng_state = 3;
    for (i = 0; i < 100000; i += (int)step()) {
        uint32_t h = (uint32_t)rng();

        check_msg(to_net32(h) == libc_htonl(h), "to_net32(0x%08X) = 0x%08X, htonl() "
                      "gives 0x%08X", h, to_net32(h), libc_htonl(h));
        check_msg(from_net32(h) == libc_ntohl(h), "from_net32(0x%08X) = 0x%08X, ntohl() "
                      "gives 0x%08X", h, from_net32(h), libc_ntohl(h));
        check_msg(from_net32(to_net32(h)) == h, "from_net32(to_net32(0x%08X)) = 0x%08X",
                      h, from_net32(to_net32(h)));
    }
    assert_own_code();
}
END_TEST

static Suite *byte_order_suite(void)
{
    Suite *s = suite_create("byte order");
    TCase *tc = tcase_create("byte order");

    tcase_add_unchecked_fixture(tc, find_libc, NULL);
    tcase_add_test(tc, test_to_net16_bytes);
    tcase_add_test(tc, test_to_net32_bytes);
    tcase_add_test(tc, test_from_net16_bytes);
    tcase_add_test(tc, test_from_net32_bytes);
    tcase_add_test(tc, test_byte_order_matches_libc);
    suite_add_tcase(s, tc);
    return s;
}

/* ==== parse_ipv4 ========================================================== */

START_TEST(test_parse_valid)
{
    static const struct { const char *text; uint8_t bytes[4]; } cases[] = {
        { "127.0.0.1",       { 127, 0, 0, 1 } },
        { "192.168.0.1",     { 192, 168, 0, 1 } },
        { "0.0.0.0",         { 0, 0, 0, 0 } },
        /* valid, although inet_addr() cannot tell it from its error value */
        { "255.255.255.255", { 255, 255, 255, 255 } },
        { "10.200.30.4",     { 10, 200, 30, 4 } },
        { "1.2.3.0",         { 1, 2, 3, 0 } },
        { "214.121.212.102", { 214, 121, 212, 102 } },
    };
    char esc[160], got[64];
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct in_addr a;
        int rc;

        memset(&a, 0xEE, sizeof a);
        rc = parse_ipv4(cases[i].text, &a);
        ck_assert_msg(rc == 1, "parse_ipv4(%s) returned %d, expected 1 (valid)",
                      escaped(cases[i].text, esc, sizeof esc), rc);
        ck_assert_msg(memcmp(&a.s_addr, cases[i].bytes, 4) == 0,
                      "parse_ipv4(%s) stored %s: the first number must be the first byte "
                      "in memory", escaped(cases[i].text, esc, sizeof esc),
                      quad(&a, got, sizeof got));
    }
    assert_own_code();
}
END_TEST

START_TEST(test_parse_rejects)
{
    static const char *const bad[] = {
        "", "1.2.3", "1.2.3.4.5", "127.1", "1.2.3.256", "256.0.0.1", "1.2.3.999",
        "01.2.3.4", "1.2.3.04", "00.0.0.0", "1.2.3.00", "1..2.3", ".1.2.3", "1.2.3.",
        "1.2.3.4.", "+1.2.3.4", "1.-2.3.4", " 1.2.3.4", "1.2.3.4 ", "1.2. 3.4",
        "\t1.2.3.4", "1.2.3.4\n", "0x7f.0.0.1", "1.2.3.0x4", "1.2.3.4x", "localhost",
        "4294967296", "1.2.3.4294967296", "1.2.3.4294967297", "1.2.3.65537",
        "1.2.3.18446744073709551617", "1,2,3,4", "1.2.3.4/24", "...", "1.2.3.1000",
    };
    char esc[160];
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct in_addr a;
        int rc;

        memset(&a, 0xEE, sizeof a);
        rc = parse_ipv4(bad[i], &a);
        ck_assert_msg(rc == 0, "parse_ipv4(%s) returned %d, expected 0 (invalid; "
                      "inet_pton() refuses it)", escaped(bad[i], esc, sizeof esc), rc);
    }
    assert_own_code();
}
END_TEST

START_TEST(test_parse_failure_leaves_out_alone)
{
    static const char *const bad[] = { "1.2.3.256", "10.20.30", "10.20.30.40.50",
                                       "10.20.30.40x", "10.20.30.04" };
    char esc[160], got[64];
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct in_addr a, before;

        memset(&before, 0xEE, sizeof before);
        a = before;
        (void)parse_ipv4(bad[i], &a);
        ck_assert_msg(memcmp(&a, &before, sizeof a) == 0,
                      "parse_ipv4(%s) failed but changed *out to %s: on failure it must "
                      "leave *out as it was (parse into a local first)",
                      escaped(bad[i], esc, sizeof esc), quad(&a, got, sizeof got));
    }
    assert_own_code();
}
END_TEST

/* Run both on text; fail with the whole story if they differ. */
static void compare_parse(const char *text, const char *where, long n)
{
    struct in_addr want, got;
    int want_rc, got_rc;
    char esc[160], w[64], g[64];

    memset(&want, 0xEE, sizeof want);
    got = want;
    want_rc = libc_inet_pton(AF_INET, text, &want);
    got_rc = parse_ipv4(text, &got);
    if (want_rc != got_rc || memcmp(&want, &got, sizeof want) != 0)
        ck_abort_msg("%s %ld: parse_ipv4(%s) returned %d, *out %s; inet_pton() returns "
                     "%d, *out %s%s", where, n, escaped(text, esc, sizeof esc), got_rc,
                     quad(&got, g, sizeof g), want_rc, quad(&want, w, sizeof w),
                     want_rc == 0 ? " (untouched)" : "");
}

START_TEST(test_parse_matches_libc_on_combinations)
{
    /* Every address made of four of these parts: 18^4 = 104976 strings. */
    static const char *const parts[] = {
        "", "0", "1", "00", "01", "10", "99", "100", "199", "255", "256", "300", "1000",
        "+1", " 1", "1 ", "0x1", "a",
    };
    const size_t n = sizeof parts / sizeof parts[0];
    char text[64];
    size_t a, b, c, d;
    long count = 0;

    for (a = 0; a < n; a++)
        for (b = 0; b < n; b++)
            for (c = 0; c < n; c++)
                for (d = 0; d < n; d++) {
                    if (count++ % step() != 0)
                        continue;
                    snprintf(text, sizeof text, "%s.%s.%s.%s",
                             parts[a], parts[b], parts[c], parts[d]);
                    compare_parse(text, "combination", count - 1);
                }
    assert_own_code();
}
END_TEST

/* One part of an address, from the grammar of hostile inputs. */
static size_t hostile_part(char *p, size_t room)
{
    static const char *const big[] = {
        "256", "999", "1000", "65536", "65792", "4294967296", "4294967297", "4294967552",
        "18446744073709551616", "18446744073709551617", "99999999999999999999999",
    };
    static const char *const odd[] = {
        "", "0x0", "0x7f", "0XFF", "0x", "010", "0377", "08", "09", "00", "000", "-0",
        "+0", "-1", "+255", " ", "\t", "a", "z", "/", ":", ",", ";", "\n", "\r", "\x7f",
        "\xc3\xa9", "1e2", "0b1", "\xff",
    };
    unsigned kind = below(32);
    int n = 0;

    if (kind >= 20)
        kind = 0;                                   /* 23 in 32: a valid part */

    if (kind < 11) {                                /* a valid part, mostly */
        n = snprintf(p, room, "%u", below(4) == 0 ? below(10) : below(256));
    } else if (kind == 11) {                        /* a leading zero */
        n = snprintf(p, room, "0%u", below(256));
    } else if (kind == 12) {
        n = snprintf(p, room, "%s", big[below(sizeof big / sizeof big[0])]);
    } else if (kind == 13) {
        n = snprintf(p, room, "%s", odd[below(sizeof odd / sizeof odd[0])]);
    } else if (kind == 14) {                        /* a sign or a space, then a number */
        n = snprintf(p, room, "%c%u", " \t+-"[below(4)], below(256));
    } else if (kind == 15) {                        /* a number, then junk */
        n = snprintf(p, room, "%u%c", below(256), " \t\nx/-+."[below(8)]);
    } else if (kind == 16) {                        /* many digits */
        size_t len = 1 + below(300), i;

        for (i = 0; i < len && i + 1 < room; i++)
            p[i] = below(3) == 0 ? (char)('0' + below(10)) : '0';
        p[i] = '\0';
        n = (int)i;
    } else if (kind == 17) {                        /* 256 and above, just */
        n = snprintf(p, room, "%u", 250 + below(20));
    } else if (kind == 18) {                        /* a random byte */
        p[0] = (char)(1 + below(255));
        p[1] = '\0';
        n = 1;
    } else {                                        /* 3 or 4 digits */
        n = snprintf(p, room, "%u", below(10000));
    }
    return n < 0 ? 0 : ((size_t)n < room ? (size_t)n : room - 1);
}

/* A string to try: mostly four parts from the grammar, some random
 * characters, some valid addresses with one character changed, and some
 * overlong ones. */
static void hostile_string(char *s, size_t size)
{
    unsigned mode = below(10);
    size_t len = 0;

    s[0] = '\0';
    if (mode < 6) {                                 /* parts and separators */
        unsigned parts = below(3) ? 4 : below(8), i;

        if (below(12) == 0)
            s[len++] = " \t.0+-x\n"[below(8)];
        for (i = 0; i < parts && len + 400 < size; i++) {
            if (i > 0) {
                unsigned sep = below(30);
                s[len++] = sep < 26 ? '.' : ",. :"[sep - 26];
                if (sep == 27)
                    s[len++] = '.';
            }
            len += hostile_part(s + len, size - len);
        }
        if (below(12) == 0)
            s[len++] = " \t.0\nx9"[below(7)];
        s[len] = '\0';
    } else if (mode < 8) {                          /* random characters */
        static const char alphabet[] = "0123456789...... +-x\t";
        size_t n = below(20), i;

        for (i = 0; i < n; i++)
            s[len++] = alphabet[below(sizeof alphabet - 1)];
        s[len] = '\0';
    } else if (mode == 8) {                         /* a valid address, one change */
        char *p;

        len = (size_t)snprintf(s, size, "%u.%u.%u.%u", below(256), below(256), below(256),
                               below(256));
        p = s + below((unsigned)len);
        switch (below(3)) {
        case 0:                                     /* replace a character */
            *p = "0123456789. x+-"[below(15)];
            break;
        case 1:                                     /* delete one */
            memmove(p, p + 1, strlen(p + 1) + 1);
            break;
        default:                                    /* insert one */
            memmove(p + 1, p, strlen(p) + 1);
            *p = "0123456789.  "[below(13)];
        }
    } else {                                        /* overlong */
        size_t extra = 100 + below(400), i;

        len = (size_t)snprintf(s, size, "%u.%u.%u.%u", below(256), below(256), below(256),
                               below(256));
        for (i = 0; i < extra && len + 1 < size; i++)
            s[len++] = below(4) == 0 ? '.' : (char)('0' + below(10));
        s[len] = '\0';
    }
}

START_TEST(test_parse_matches_libc_on_hostile_strings)
{
    char text[1024];
    long i;

    rng_state = 20260301;                           /* fixed: the same strings every run */
    for (i = 0; i < 30000; i += step()) {
        hostile_string(text, sizeof text);
        compare_parse(text, "hostile string", i);
    }
    assert_own_code();
}
END_TEST

static Suite *parse_suite(void)
{
    Suite *s = suite_create("parse_ipv4");
    TCase *tc = tcase_create("parse_ipv4");

    tcase_add_unchecked_fixture(tc, find_libc, NULL);
    tcase_add_test(tc, test_parse_valid);
    tcase_add_test(tc, test_parse_rejects);
    tcase_add_test(tc, test_parse_failure_leaves_out_alone);
    tcase_add_test(tc, test_parse_matches_libc_on_combinations);
    tcase_add_test(tc, test_parse_matches_libc_on_hostile_strings);
    suite_add_tcase(s, tc);
    return s;
}

/* ==== format_ipv4 ========================================================= */

static struct in_addr from_bytes(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    struct in_addr addr;
    const uint8_t bytes[4] = { a, b, c, d };

    memcpy(&addr.s_addr, bytes, 4);
    return addr;
}

START_TEST(test_format_values)
{
    static const struct { uint8_t bytes[4]; const char *text; } cases[] = {
        { { 127, 0, 0, 1 },       "127.0.0.1" },
        { { 192, 168, 100, 200 }, "192.168.100.200" },
        { { 0, 0, 0, 0 },         "0.0.0.0" },
        { { 255, 255, 255, 255 }, "255.255.255.255" },
        { { 10, 0, 9, 100 },      "10.0.9.100" },
        { { 129, 78, 102, 211 },  "129.78.102.211" },
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct in_addr a = from_bytes(cases[i].bytes[0], cases[i].bytes[1],
                                      cases[i].bytes[2], cases[i].bytes[3]);
        char buf[32];
        const char *r;

        memset(buf, 'Z', sizeof buf);
        r = format_ipv4(&a, buf, sizeof buf);
        ck_assert_msg(r == buf, "format_ipv4(bytes %u %u %u %u, buf, 32) returned %p, "
                      "expected buf (%p)", cases[i].bytes[0], cases[i].bytes[1],
                      cases[i].bytes[2], cases[i].bytes[3], (const void *)r, (void *)buf);
        buf[sizeof buf - 1] = '\0';
        ck_assert_str_eq(buf, cases[i].text);
    }
    assert_own_code();
}
END_TEST

START_TEST(test_format_exact_fit)
{
    /* "192.168.100.200" is 15 characters: 16 bytes fit it and its NUL,
     * 15 do not. Nothing past the NUL may change. */
    struct in_addr a = from_bytes(192, 168, 100, 200);
    char buf[24], before[24];
    const char *r;

    memset(buf, 'Z', sizeof buf);
    memcpy(before, buf, sizeof buf);
    errno = 0;
    r = format_ipv4(&a, buf, 15);
    ck_assert_msg(r == NULL, "format_ipv4(192.168.100.200, buf, 15) returned a pointer: "
                  "15 bytes cannot hold the 15 characters and the NUL, expected NULL");
    ck_assert_msg(errno == ENOSPC, "format_ipv4(..., 15) set errno to %d, expected ENOSPC "
                  "(%d)", errno, ENOSPC);
    ck_assert_msg(memcmp(buf, before, sizeof buf) == 0,
                  "format_ipv4(..., 15) failed but wrote into buf (\"%.15s\"): a buffer "
                  "too small must be left untouched", buf);

    r = format_ipv4(&a, buf, 16);
    ck_assert_msg(r == buf, "format_ipv4(192.168.100.200, buf, 16) did not return buf: "
                  "16 bytes hold the text and its NUL exactly");
    ck_assert_mem_eq(buf, "192.168.100.200\0ZZZZZZZZ", sizeof buf);
    assert_own_code();
}
END_TEST

START_TEST(test_format_size_zero)
{
    struct in_addr a = from_bytes(1, 2, 3, 4);
    char buf[8] = "ZZZZZZZ";

    errno = 0;
    ck_assert_ptr_null(format_ipv4(&a, buf, 0));
    ck_assert_int_eq(errno, ENOSPC);
    ck_assert_mem_eq(buf, "ZZZZZZZ", 8);
    /* "1.2.3.4" needs 8 bytes */
    ck_assert_ptr_null(format_ipv4(&a, buf, 7));
    ck_assert_ptr_eq(format_ipv4(&a, buf, 8), buf);
    ck_assert_str_eq(buf, "1.2.3.4");
    assert_own_code();
}
END_TEST

START_TEST(test_format_matches_libc)
{
    /* Random addresses, biased towards 0, 9, 10, 99, 100, 199, 200, 255
     * (where the number of digits changes), and buffer sizes 0-40 around
     * the exact fit: the return value, errno and every byte of the buffer
     * must come out as inet_ntop()'s do. */
    static const uint8_t edges[] = { 0, 1, 9, 10, 99, 100, 199, 200, 254, 255 };
    char want[40], got[40];
    long i;

    rng_state = 7;
    for (i = 0; i < 40000; i += step()) {
        uint8_t b[4];
        struct in_addr a;
        socklen_t size;
        const char *want_r, *got_r;
        int want_errno, got_errno, k;
        char fill = (char)('A' + below(26));

        for (k = 0; k < 4; k++)
            b[k] = below(2) ? edges[below(sizeof edges)] : (uint8_t)below(256);
        a = from_bytes(b[0], b[1], b[2], b[3]);
        size = below(4) == 0 ? below(41) : 5 + below(13);
        memset(want, fill, sizeof want);
        memset(got, fill, sizeof got);
        errno = 0;
        want_r = libc_inet_ntop(AF_INET, &a, want, size);
        want_errno = errno;
        errno = 0;
        got_r = format_ipv4(&a, got, size);
        got_errno = errno;
        check_msg((got_r == NULL) == (want_r == NULL) && (got_r == NULL || got_r == got),
                      "case %ld: format_ipv4(%u.%u.%u.%u, buf, %u) returned %s; inet_ntop() "
                      "returns %s", i, b[0], b[1], b[2], b[3], (unsigned)size,
                      got_r == NULL ? "NULL" : got_r == got ? "buf" : "another pointer",
                      want_r == NULL ? "NULL (errno ENOSPC)" : "buf");
        check_msg(want_r != NULL || got_errno == want_errno,
                      "case %ld: format_ipv4(%u.%u.%u.%u, buf, %u) returned NULL with errno "
                      "%d; inet_ntop() sets errno to ENOSPC (%d)", i, b[0], b[1], b[2], b[3],
                      (unsigned)size, got_errno, want_errno);
        if (memcmp(want, got, sizeof want) != 0) {
            char w[200], g[200];
            size_t at = 0;

            while (want[at] == got[at])
                at++;
            ck_abort_msg("case %ld: format_ipv4(%u.%u.%u.%u, buf, %u) left the %zu bytes "
                         "of buf as %s; inet_ntop() leaves %s (%s): they differ from "
                         "byte %zu on%s",
                         i, b[0], b[1], b[2], b[3], (unsigned)size, sizeof got,
                         all_bytes(got, sizeof got, g, sizeof g),
                         all_bytes(want, sizeof want, w, sizeof w),
                         want_r == NULL ? "untouched: too small" : "the text, its NUL, and "
                         "nothing after it changed", at,
                         want_r != NULL && at > strlen(want) ? ", after the NUL: nothing "
                         "past it may be written (copy strlen() + 1 bytes; strncpy() "
                         "pads up to size)"
                         : "");
        }
    }
    assert_own_code();
}
END_TEST

static Suite *format_suite(void)
{
    Suite *s = suite_create("format_ipv4");
    TCase *tc = tcase_create("format_ipv4");

    tcase_add_unchecked_fixture(tc, find_libc, NULL);
    tcase_add_test(tc, test_format_values);
    tcase_add_test(tc, test_format_exact_fit);
    tcase_add_test(tc, test_format_size_zero);
    tcase_add_test(tc, test_format_matches_libc);
    suite_add_tcase(s, tc);
    return s;
}

/* ==== fill_sockaddr ======================================================== */

START_TEST(test_fill_sockaddr_fields)
{
    struct sockaddr_in sa;
    const uint8_t port_bytes[2] = { 0x23, 0xE6 };           /* 9190 */
    const uint8_t addr_bytes[4] = { 192, 168, 1, 10 };
    const uint8_t zero[sizeof sa.sin_zero] = { 0 };
    int rc;

    memset(&sa, 0xA5, sizeof sa);
    rc = fill_sockaddr(&sa, "192.168.1.10", "9190");
    ck_assert_msg(rc == FILL_OK, "fill_sockaddr(&sa, \"192.168.1.10\", \"9190\") returned "
                  "%d, expected FILL_OK (0)", rc);
    ck_assert_msg(sa.sin_family == AF_INET, "sin_family is %u (0x%04X), expected AF_INET (%u): "
                  "sin_family is in host byte order, AF_INET as it is (only sin_port and "
                  "sin_addr are in network order)", (unsigned)sa.sin_family,
                  (unsigned)sa.sin_family, (unsigned)AF_INET);
    ck_assert_msg(memcmp(&sa.sin_port, port_bytes, 2) == 0,
                  "sin_port holds the bytes %02X %02X, expected 23 E6 (9190 = 0x23E6 in "
                  "network byte order)", ((uint8_t *)&sa.sin_port)[0],
                  ((uint8_t *)&sa.sin_port)[1]);
    ck_assert_msg(memcmp(&sa.sin_addr, addr_bytes, 4) == 0,
                  "sin_addr holds the bytes %u %u %u %u, expected 192 168 1 10 (parse_ipv4 "
                  "already gives network byte order: convert it again and it is reversed)",
                  ((uint8_t *)&sa.sin_addr)[0], ((uint8_t *)&sa.sin_addr)[1],
                  ((uint8_t *)&sa.sin_addr)[2], ((uint8_t *)&sa.sin_addr)[3]);
    ck_assert_msg(memcmp(sa.sin_zero, zero, sizeof zero) == 0,
                  "sin_zero is not all zero bytes: clear the whole structure first");
    assert_own_code();
}
END_TEST

START_TEST(test_fill_sockaddr_whole_struct)
{
    /* Every byte, compared with the structure built the usual way. */
    static const struct { const char *ip, *port; uint16_t value; } cases[] = {
        { "127.0.0.1", "80", 80 }, { "0.0.0.0", "1", 1 }, { "255.255.255.255", "65535", 65535 },
        { "10.0.0.2", "0080", 80 }, { "8.8.4.4", "53", 53 }, { "1.2.3.4", "000000000443", 443 },
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sockaddr_in got, want;
        int rc;

        memset(&want, 0, sizeof want);
        want.sin_family = AF_INET;
        want.sin_port = libc_htons(cases[i].value);
        ck_assert_int_eq(libc_inet_pton(AF_INET, cases[i].ip, &want.sin_addr), 1);
        memset(&got, 0x5A, sizeof got);
        rc = fill_sockaddr(&got, cases[i].ip, cases[i].port);
        ck_assert_msg(rc == FILL_OK, "fill_sockaddr(&sa, \"%s\", \"%s\") returned %d, "
                      "expected FILL_OK (0)", cases[i].ip, cases[i].port, rc);
        ck_assert_msg(memcmp(&got, &want, sizeof got) == 0,
                      "fill_sockaddr(&sa, \"%s\", \"%s\"): the structure's %zu bytes differ "
                      "from memset 0, AF_INET, htons(%u), inet_pton(\"%s\")", cases[i].ip,
                      cases[i].port, sizeof got, cases[i].value, cases[i].ip);
    }
    assert_own_code();
}
END_TEST

START_TEST(test_fill_sockaddr_bad_port)
{
    static const char *const bad[] = {
        "", "0", "00", "65536", "65616", "70000", "-1", "+80", " 80", "80 ", "8x", "0x50",
        "abc", "80.0", "4294967376", "18446744073709551696", "99999999999999999999999",
    };
    char esc[160];
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sockaddr_in sa;
        int rc = fill_sockaddr(&sa, "127.0.0.1", bad[i]);

        ck_assert_msg(rc == FILL_BAD_PORT, "fill_sockaddr(&sa, \"127.0.0.1\", %s) returned "
                      "%d, expected FILL_BAD_PORT (%d): a port is 1-65535, digits only",
                      escaped(bad[i], esc, sizeof esc), rc, FILL_BAD_PORT);
    }
    assert_own_code();
}
END_TEST

START_TEST(test_fill_sockaddr_bad_address)
{
    static const struct { const char *ip, *port; } cases[] = {
        { "1.2.3.256", "80" }, { "01.2.3.4", "80" }, { "localhost", "80" }, { "", "80" },
        { "127.1", "80" }, { "1.2.3.4 ", "80" },
        { "1.2.3.256", "0" },           /* both wrong: the address is checked first */
        { "1.2.3", "abc" },
    };
    char esc[160];
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sockaddr_in sa;
        int rc = fill_sockaddr(&sa, cases[i].ip, cases[i].port);

        ck_assert_msg(rc == FILL_BAD_ADDRESS, "fill_sockaddr(&sa, %s, \"%s\") returned %d, "
                      "expected FILL_BAD_ADDRESS (%d)", escaped(cases[i].ip, esc, sizeof esc),
                      cases[i].port, rc, FILL_BAD_ADDRESS);
    }
    assert_own_code();
}
END_TEST

static Suite *fill_suite(void)
{
    Suite *s = suite_create("fill_sockaddr");
    TCase *tc = tcase_create("fill_sockaddr");

    tcase_add_unchecked_fixture(tc, find_libc, NULL);
    tcase_add_test(tc, test_fill_sockaddr_fields);
    tcase_add_test(tc, test_fill_sockaddr_whole_struct);
    tcase_add_test(tc, test_fill_sockaddr_bad_port);
    tcase_add_test(tc, test_fill_sockaddr_bad_address);
    suite_add_tcase(s, tc);
    return s;
}

/* ==== main ================================================================ */

int main(void)
{
    SRunner *sr;
    int failed;

    find_libc();
    sr = srunner_create(byte_order_suite());
    srunner_add_suite(sr, parse_suite());
    srunner_add_suite(sr, format_suite());
    srunner_add_suite(sr, fill_suite());

    /* Each test in its own process: a crash in the code under test fails
     * that test only, and the others still run. */
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_ENV);    /* CK_VERBOSITY chooses; CK_NORMAL if unset */
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
