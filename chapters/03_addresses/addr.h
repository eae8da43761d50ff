/* addr.h - byte order, IPv4 text <-> binary, and struct sockaddr_in, by hand.
 *
 * The unit of chapter 03 (addresses). You write addr.c; this header is the
 * contract (do not change it). tests/check/test_addr.c tests each function
 * against fixed cases and against the C library's own inet_pton() and
 * inet_ntop() on tens of thousands of strings:
 *   make check CHAPTER=03_addresses
 *
 * addr.c must do the work itself: it may not call htons(), htonl(),
 * ntohs(), ntohl(), inet_pton(), inet_ntop(), inet_aton(), inet_addr(),
 * inet_network() or inet_ntoa() (the tests notice).
 *
 * Partner files: addr.c, addr_show.c. Exercise: chapter 03, addresses.
 */
#ifndef ADDR_H
#define ADDR_H

#include <netinet/in.h>   /* struct in_addr, struct sockaddr_in */
#include <stdint.h>       /* uint16_t, uint32_t */
#include <sys/socket.h>   /* socklen_t */

/* The longest dotted quad, "255.255.255.255", and its NUL: 16 bytes
 * (the same value as INET_ADDRSTRLEN). */
#define ADDR_TEXT_SIZE 16

/* ---- byte order ----------------------------------------------------------
 * to_net16(h): the 16-bit value whose bytes IN MEMORY are h's most
 * significant byte first, then its least significant (network byte order),
 * on any machine, big- or little-endian. Same as htons(h).
 * to_net32(h): the same for 32 bits (htonl).
 * from_net16(n), from_net32(n): the reverse: n's bytes in memory are read
 * as a big-endian number (ntohs, ntohl). */
uint16_t to_net16(uint16_t host);
uint32_t to_net32(uint32_t host);
uint16_t from_net16(uint16_t net);
uint32_t from_net32(uint32_t net);

/* ---- text -> binary: exactly glibc's inet_pton(AF_INET, text, out) -------
 * Returns 1 if text is exactly four decimal numbers 0-255 separated by
 * single dots, each written without a leading zero ("0" is fine, "00" and
 * "01" are not), with nothing before, between or after them: no sign, no
 * space, no 0x. Then *out holds the address in network byte order (its
 * first byte in memory is the first number). Otherwise returns 0 and leaves
 * *out exactly as it was. */
int parse_ipv4(const char *text, struct in_addr *out);

/* ---- binary -> text: exactly inet_ntop(AF_INET, addr, buf, size) ---------
 * Writes *addr (network byte order) as a dotted quad of decimal numbers
 * without leading zeros, "192.168.0.1", and its terminating NUL into buf,
 * and returns buf. If the text and its NUL do not fit in size bytes,
 * returns NULL, sets errno to ENOSPC and leaves buf untouched. Writes no
 * byte past the NUL. */
const char *format_ipv4(const struct in_addr *addr, char *buf, socklen_t size);

/* ---- both -> struct sockaddr_in ------------------------------------------
 * Fills *sa for the IPv4 address text ip (as parse_ipv4) and the port
 * text port: one or more decimal digits (nothing else: no sign, no space),
 * value 1-65535; leading zeros are allowed ("080" is 80). On success
 * every byte of *sa is set: sin_family AF_INET, sin_port and sin_addr in
 * network byte order, everything else (sin_zero) zero; returns FILL_OK.
 * Returns FILL_BAD_ADDRESS if ip is invalid (checked first), else
 * FILL_BAD_PORT if port is invalid; then *sa's contents are unspecified. */
enum { FILL_OK = 0, FILL_BAD_ADDRESS = -1, FILL_BAD_PORT = -2 };
int fill_sockaddr(struct sockaddr_in *sa, const char *ip, const char *port);

#endif
