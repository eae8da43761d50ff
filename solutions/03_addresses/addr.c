/* addr.c - byte order, IPv4 text <-> binary, and struct sockaddr_in, by hand.
 *
 * No Usage line: this is a unit, not a program. addr_show.c uses it, and
 * tests/check/test_addr.c tests each function on its own:
 *   make check CHAPTER=03_addresses
 *
 * Partner files: addr.h (what each function must do), addr_show.c.
 * Exercise: chapter 03, addresses.
 */
#include <errno.h>      /* errno, ENOSPC */
#include <stdint.h>     /* uint8_t, uint16_t, uint32_t */
#include <string.h>     /* memcpy, memset */

#include "addr.h"

/* ---- byte order -------------------------------------------------------- */

/* Network byte order is about the bytes in memory, so these functions work
 * on bytes: shifts pick each byte out of the number (shifts act on values,
 * the same on every machine), and memcpy() lays them out in memory in the
 * order we choose. An unconditional byte swap would be right on this
 * little-endian PC and wrong on a big-endian one, where network order is
 * the machine's own order and htons() does nothing. */

uint16_t to_net16(uint16_t host)
{
    uint8_t bytes[2] = { (uint8_t)(host >> 8), (uint8_t)(host & 0xFF) };
    uint16_t net;

    memcpy(&net, bytes, sizeof net);
    return net;
}

uint32_t to_net32(uint32_t host)
{
    uint8_t bytes[4] = { (uint8_t)(host >> 24), (uint8_t)(host >> 16),
                         (uint8_t)(host >> 8), (uint8_t)(host & 0xFF) };
    uint32_t net;

    memcpy(&net, bytes, sizeof net);
    return net;
}

uint16_t from_net16(uint16_t net)
{
    uint8_t bytes[2];

    memcpy(bytes, &net, sizeof bytes);
    return (uint16_t)((bytes[0] << 8) | bytes[1]);
}

uint32_t from_net32(uint32_t net)
{
    uint8_t bytes[4];

    memcpy(bytes, &net, sizeof bytes);
    /* Cast before shifting: a byte promoted to int and shifted left by 24
     * overflows int when its top bit is set. */
    return ((uint32_t)bytes[0] << 24) | ((uint32_t)bytes[1] << 16) |
           ((uint32_t)bytes[2] << 8) | bytes[3];
}

/* ---- text -> binary ------------------------------------------------------ */

int parse_ipv4(const char *text, struct in_addr *out)
{
    uint8_t bytes[4];
    int parts = 0;
    const char *p = text;

    /* Read "number." three times and "number" once, one character at a
     * time: strtoul() would accept spaces, signs and "0x" that inet_pton()
     * refuses. The result goes to a local array first, so a string that
     * fails half-way leaves *out untouched. */
    for (;;) {
        unsigned value = 0;
        const char *start = p;

        while (*p >= '0' && *p <= '9') {
            if (p > start && *start == '0')
                return 0;                   /* "01": a leading zero */
            value = value * 10 + (unsigned)(*p - '0');
            if (value > 255)
                return 0;                   /* stops before it can overflow */
            p++;
        }
        if (p == start)
            return 0;                       /* an empty part, or not a digit */
        bytes[parts++] = (uint8_t)value;
        if (parts == 4)
            break;
        if (*p != '.')
            return 0;                       /* too few parts, or junk */
        p++;
    }
    if (*p != '\0')
        return 0;                           /* a fifth part, or trailing junk */
    memcpy(&out->s_addr, bytes, sizeof bytes);
    return 1;
}

/* ---- binary -> text -------------------------------------------------------- */

/* Append the decimal digits of value (0-255) to *p; return how many. */
static size_t put_decimal(char *p, unsigned value)
{
    char digits[3];
    size_t n = 0, i;

    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    for (i = 0; i < n; i++)
        p[i] = digits[n - 1 - i];           /* most significant digit first */
    return n;
}

const char *format_ipv4(const struct in_addr *addr, char *buf, socklen_t size)
{
    char text[ADDR_TEXT_SIZE];
    uint8_t bytes[4];                       /* unsigned: 192 stays 192 */
    size_t len = 0;
    int i;

    /* Write into a local buffer first and copy only if it all fits, so a
     * buffer too small is left exactly as it was, as inet_ntop() does. */
    memcpy(bytes, &addr->s_addr, sizeof bytes);
    for (i = 0; i < 4; i++) {
        if (i > 0)
            text[len++] = '.';
        len += put_decimal(text + len, bytes[i]);
    }
    text[len] = '\0';
    if (len + 1 > size) {
        errno = ENOSPC;
        return NULL;
    }
    memcpy(buf, text, len + 1);
    return buf;
}

/* ---- both -> struct sockaddr_in ------------------------------------------ */

/* "1" to "65535", digits only (leading zeros allowed); -1 if not. */
static long parse_port(const char *text)
{
    long value = 0;
    const char *p;

    if (*text == '\0')
        return -1;
    for (p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        value = value * 10 + (*p - '0');
        if (value > 65535)
            return -1;                      /* before it can overflow */
    }
    return value >= 1 ? value : -1;
}

int fill_sockaddr(struct sockaddr_in *sa, const char *ip, const char *port)
{
    struct in_addr addr;
    long value;

    if (parse_ipv4(ip, &addr) != 1)
        return FILL_BAD_ADDRESS;
    value = parse_port(port);
    if (value == -1)
        return FILL_BAD_PORT;

    /* Zero everything first: sin_zero must be zero, and on some systems
     * the structure has other fields (sin_len on the BSDs). */
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = to_net16((uint16_t)value);
    sa->sin_addr = addr;                    /* already in network order */
    return FILL_OK;
}
