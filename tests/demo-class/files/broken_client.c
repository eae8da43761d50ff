/* hello_client.c that does not compile: a student's half-finished edit */
#include <stdio.h>

int main(int argc, char *argv[])
{
    if (argc != 3) {
        fprintf(stderr, "Usage: hello_client <ip> <port>\n")
        return 1;
    }
    return connect_to(argv[1], argv[2]);
}
