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
    struct sockaddr_in sa;
    uint8_t bytes[sizeof sa];
    char text[ADDR_TEXT_SIZE];
    size_t i;
    int rc;

    if (argc != 3) {
        fprintf(stderr, "Usage: addr_show <IPv4 address> <port>\n");
        return 1;
    }
    rc = fill_sockaddr(&sa, argv[1], argv[2]);
    if (rc == FILL_BAD_ADDRESS) {
        fprintf(stderr, "addr_show: invalid IPv4 address '%s' (expected four numbers "
                "0-255, e.g. 127.0.0.1)\n", argv[1]);
        return 1;
    }
    if (rc == FILL_BAD_PORT) {
        fprintf(stderr, "addr_show: invalid port '%s' (expected 1-65535)\n", argv[2]);
        return 1;
    }

    /* The bytes as they lie in memory: what the kernel reads. An unsigned
     * type, so 0xC0 prints as c0 and not as ffffffc0. */
    memcpy(bytes, &sa, sizeof sa);
    printf("bytes:");
    for (i = 0; i < sizeof bytes; i++)
        printf(" %02x", bytes[i]);
    printf("\n");

    printf("family: %u\n", (unsigned)sa.sin_family);
    /* Each field as meant (from network order) and as read directly, the
     * mistake: on a little-endian PC port 9190 (0x23E6) reads as 0xE623. */
    printf("port: %u\n", (unsigned)from_net16(sa.sin_port));
    printf("port_raw: %u\n", (unsigned)sa.sin_port);
    if (format_ipv4(&sa.sin_addr, text, sizeof text) == NULL) {
        perror("format_ipv4");  /* cannot happen: the buffer fits any address */
        return 1;
    }
    printf("address: %s\n", text);
    printf("address_raw: 0x%08lx\n", (unsigned long)sa.sin_addr.s_addr);
    return 0;
}
