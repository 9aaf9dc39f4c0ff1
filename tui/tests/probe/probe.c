/* A tiny static probe the attack suite runs inside containers: the syscalls an attacker can
 * use that busybox cannot make. Usage:
 *   probe fchmod FILE      chmod FILE to 04755 through an fd (fchmod), not a path
 *   probe fsopen FSTYPE    the new mount API: fsopen(FSTYPE) (refused without CAP_SYS_ADMIN)
 *   probe io_uring         set up an io_uring ring (io_uring_setup) and close it
 * Exit status 0 when the syscall was made (its own result does not matter). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#endif

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "fchmod") == 0) {
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0) { perror(argv[2]); return 2; }
        if (fchmod(fd, 04755) != 0) perror("fchmod");
        close(fd);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "fsopen") == 0) {
        long fd = syscall(SYS_fsopen, argv[2], 0);
        if (fd < 0) perror("fsopen"); else close((int)fd);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "io_uring") == 0) {
        unsigned char params[120];
        memset(params, 0, sizeof params);
        long fd = syscall(SYS_io_uring_setup, 8, params);
        if (fd < 0) perror("io_uring_setup"); else close((int)fd);
        return 0;
    }
    fprintf(stderr, "usage: probe fchmod FILE | fsopen FSTYPE | io_uring\n");
    return 64;
}
