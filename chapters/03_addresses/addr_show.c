/* addr_show.c - show the bytes of the struct sockaddr_in that bind() or
 * connect() would be given for an IPv4 address and a port.
 *
 * Prints the structure's bytes in memory, then each field twice: as the
 * number it means (converted from network byte order) and as the number a
 * program that forgets the conversion would read on this machine.
 *
 * Usage: addr_show <IPv4 address> <port>
 * Partner files: addr.c, addr.h (the conversions it uses).
 * Exercise: chapter 03, addresses.
 */
#include <netinet/in.h>   /* struct sockaddr_in */
#include <stdint.h>       /* uint8_t */
#include <stdio.h>        /* printf, fprintf */
#include <string.h>       /* memcpy */

#include "addr.h"

int main(int argc, char *argv[])
{
    if (argc != 3) {
        fprintf(stderr, "Usage: addr_show <IPv4 address> <port>\n");
        return 1;
    }

    /* TODO(03.6): fill a struct sockaddr_in with fill_sockaddr(&sa,
     * argv[1], argv[2]). On FILL_BAD_ADDRESS print a message naming the
     * address on stderr (e.g. "addr_show: invalid IPv4 address '1.2.3.256'")
     * and return 1; on FILL_BAD_PORT the same for the port. */

    /* TODO(03.7): print the six lines of the contract (the notes):
     *   bytes: the sizeof sa bytes of the structure as it lies in memory,
     *          each as two hex digits ("%02x" of a uint8_t, not of a char:
     *          0xC0 must not come out as ffffffc0), separated by spaces
     *   family: sin_family
     *   port: the port as meant, from_net16(sa.sin_port)
     *   port_raw: sa.sin_port printed directly, as an unsigned number
     *   address: format_ipv4() of sa.sin_addr
     *   address_raw: sa.sin_addr.s_addr printed directly (e.g. 0x%08lx)
     * then return 0. */
    (void)argv;
    fprintf(stderr, "addr_show: not written yet (TODO 03.6 and 03.7)\n");
    return 1;
}
