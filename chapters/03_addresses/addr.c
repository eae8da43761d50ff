/* addr.c - byte order, IPv4 text <-> binary, and struct sockaddr_in, by hand.
 *
 * No Usage line: this is a unit, not a program. addr_show.c uses it, and
 * tests/check/test_addr.c tests each function on its own:
 *   make check CHAPTER=03_addresses
 *
 * Partner files: addr.h (what each function must do), addr_show.c.
 * Exercise: chapter 03, addresses.
 *
 * Every function below is a stub that compiles and returns a harmless wrong
 * value. The (void) casts only keep the compiler quiet about parameters a
 * stub does not use yet: delete them as you write each function. Do the
 * work yourself: addr.c may not call htons(), inet_pton() and their
 * relatives (addr.h lists them; the tests notice).
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
    /* TODO(03.1): put host's most significant byte (host >> 8) in bytes[0]
     * and its least significant in bytes[1] of a uint8_t array, then
     * memcpy() the array into a uint16_t and return that. */
    (void)host;
    return 0;
}

uint32_t to_net32(uint32_t host)
{
    /* TODO(03.1): the same for four bytes, bytes[0] = bits 31..24. */
    (void)host;
    return 0;
}

uint16_t from_net16(uint16_t net)
{
    /* TODO(03.2): the reverse: memcpy() net into two bytes and rebuild the
     * number from them, bytes[0] being the high byte. */
    (void)net;
    return 0;
}

uint32_t from_net32(uint32_t net)
{
    /* TODO(03.2): the same for four bytes. Cast each byte to uint32_t
     * before shifting it: a byte promoted to int and shifted left by 24
     * overflows int when its top bit is set. */
    (void)net;
    return 0;
}

/* ---- text -> binary ------------------------------------------------------ */

int parse_ipv4(const char *text, struct in_addr *out)
{
    /* TODO(03.3): read the string one character at a time: four parts of
     * decimal digits, 0-255, no leading zero (a part "0" is fine, "01" is
     * not), separated by single dots, nothing after the fourth. Stop as
     * soon as a part passes 255 (so no number can overflow). Collect the
     * four bytes in a local array and copy them to out->s_addr only when
     * the whole string is valid: on failure *out stays as it was. Not
     * strtoul(): it accepts spaces, signs and more that inet_pton()
     * refuses. */
    (void)text;
    (void)out;
    return 0;
}

/* ---- binary -> text -------------------------------------------------------- */

const char *format_ipv4(const struct in_addr *addr, char *buf, socklen_t size)
{
    /* TODO(03.4): take the four bytes of addr->s_addr (as uint8_t, so 192
     * stays 192), write "a.b.c.d" into a local buffer of ADDR_TEXT_SIZE
     * bytes, and only if its length + 1 (the NUL) fits in size copy it to
     * buf and return buf; otherwise set errno to ENOSPC and return NULL,
     * buf untouched. */
    (void)addr;
    (void)buf;
    (void)size;
    return NULL;
}

/* ---- both -> struct sockaddr_in ------------------------------------------ */

int fill_sockaddr(struct sockaddr_in *sa, const char *ip, const char *port)
{
    /* TODO(03.5): parse ip with parse_ipv4() (FILL_BAD_ADDRESS if it is
     * invalid), then the port: digits only, at least one, 1-65535, stop
     * before a long string can overflow (FILL_BAD_PORT). Then memset() the
     * whole structure to 0 and set sin_family = AF_INET, sin_port with
     * to_net16(), and sin_addr to what parse_ipv4() gave: it is in network
     * byte order already. Return FILL_OK. */
    (void)sa;
    (void)ip;
    (void)port;
    return FILL_BAD_ADDRESS;
}
