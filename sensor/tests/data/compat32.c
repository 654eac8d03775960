/* A 32-bit (i386) program for the compat-syscall test: a legacy open (i386
 * number 5, x86-64's fstat), a close, a connect through the direct socket
 * syscalls and one through the socketcall multiplexer.
 * Built by the test with `gcc -m32 -static`. Usage: compat32 PATH PORT */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/net.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    long fd = syscall(SYS_open, argv[1], O_CREAT | O_WRONLY, 0600);
    if (fd < 0) return 3;
    syscall(SYS_close, fd);

    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(argv[2]));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    long s1 = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    if (s1 < 0 || syscall(SYS_connect, s1, &a, sizeof a) != 0) return 4;

    unsigned long sargs[3] = {AF_INET, SOCK_STREAM, 0};
    long s2 = syscall(SYS_socketcall, SYS_SOCKET, sargs);
    if (s2 < 0) return 5;
    unsigned long cargs[3] = {(unsigned long)s2, (unsigned long)&a, sizeof a};
    if (syscall(SYS_socketcall, SYS_CONNECT, cargs) != 0) return 6;
    return 0;
}
