/* A tiny static helper for the process identity tests (tui/tests/identity.rs): execs whose
 * caller-visible name lies about the file the kernel runs. Usage:
 *   identity selfexec ARGV0   exec itself through /proc/self/exe with argv[0] = ARGV0; the
 *                             child (argv[1] = "child") reads /etc/hostname and exits
 *   identity memfd            copy /bin/busybox into a memfd named "payload" and exec it
 *                             (fexecve) as `cat /etc/passwd`
 *   identity deleted PATH     copy /bin/busybox to PATH, open it, delete it and exec the
 *                             open file (execveat AT_EMPTY_PATH) as `cat /etc/group`
 *   identity run ARGV0 PATH [ARG...]   exec PATH with argv[0] = ARGV0 (busybox picks its
 *                             applet by argv[0]: a renamed copy still runs `cat`)
 *   identity race DECOY TARGET   open a path buffer another thread flips between DECOY and
 *                             TARGET (same length, differing in their first 8 bytes) until 64
 *                             opens got TARGET while the buffer said DECOY just before the call
 *                             (or 10 s): a tracer that reads the path at syscall entry sees one
 *                             while the kernel opens the other. Exit 0 when that happened.
 * Exit status 0 on success (the exec'd program's own status). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

static int copy(int from, int to) {
    char buf[65536];
    ssize_t n;
    while ((n = read(from, buf, sizeof buf)) > 0) {
        if (write(to, buf, (size_t)n) != n) return -1;
    }
    return n < 0 ? -1 : 0;
}

/* The path buffer of `race`: its first 8 bytes are flipped with one aligned store, so every
 * read sees DECOY or TARGET whole. */
static union { char s[64]; uint64_t w; } race_buf __attribute__((aligned(64)));
static volatile uint64_t race_words[2];
static volatile int race_done;

static void *flipper(void *arg) {
    (void)arg;
    for (uint64_t i = 0; !race_done; i++) {
        *(volatile uint64_t *)&race_buf.w = race_words[i & 1];
    }
    return NULL;
}

static int race(const char *decoy, const char *target) {
    size_t n = strlen(decoy);
    if (n != strlen(target) || n < 8 || n >= sizeof race_buf.s) {
        fprintf(stderr, "race: DECOY and TARGET must have the same length (8..63)\n");
        return 64;
    }
    struct stat want;
    if (stat(target, &want) != 0) { perror("stat target"); return 2; }
    memcpy(race_buf.s, decoy, n + 1);
    uint64_t w[2];
    memcpy(&w[0], decoy, 8);
    memcpy(&w[1], target, 8);
    race_words[0] = w[0];
    race_words[1] = w[1];
    pthread_t t;
    if (pthread_create(&t, NULL, flipper, NULL) != 0) { perror("pthread_create"); return 2; }
    /* Until 64 opens found TARGET although the buffer said DECOY just before the call (the
     * flip fell inside the syscall's entry, where a tracer reads the path), or 10 s: on a
     * busy host the two threads may seldom run at the same time. */
    int hits = 0, crossed = 0;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; crossed < 64; i++) {
        if ((i & 1023) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec - t0.tv_sec >= 10) break;
        }
        uint64_t said = *(volatile uint64_t *)&race_buf.w;
        int fd = open(race_buf.s, O_RDONLY);
        if (fd < 0) continue;
        struct stat got;
        if (fstat(fd, &got) == 0 && got.st_ino == want.st_ino && got.st_dev == want.st_dev) {
            hits++;
            if (said == w[0]) crossed++;
        }
        close(fd);
    }
    race_done = 1;
    pthread_join(t, NULL);
    printf("%d opens of %s, %d while the buffer said %s just before\n", hits, target, crossed, decoy);
    return crossed > 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "race") == 0) {
        return race(argv[2], argv[3]);
    }
    if (argc >= 2 && strcmp(argv[1], "child") == 0) {
        int fd = open("/etc/hostname", O_RDONLY);
        if (fd >= 0) close(fd);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "selfexec") == 0) {
        char *args[] = {argv[2], "child", NULL};
        execve("/proc/self/exe", args, environ);
        perror("execve /proc/self/exe");
        return 2;
    }
    if (argc >= 2 && strcmp(argv[1], "memfd") == 0) {
        int mfd = memfd_create("payload", 0);
        int bb = open("/bin/busybox", O_RDONLY);
        if (mfd < 0 || bb < 0 || copy(bb, mfd) != 0) { perror("memfd copy"); return 2; }
        close(bb);
        char *args[] = {"cat", "/etc/passwd", NULL};
        fexecve(mfd, args, environ);
        perror("fexecve");
        return 2;
    }
    if (argc >= 3 && strcmp(argv[1], "deleted") == 0) {
        int bb = open("/bin/busybox", O_RDONLY);
        int out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0755);
        if (bb < 0 || out < 0 || copy(bb, out) != 0) { perror("copy"); return 2; }
        close(bb);
        close(out);
        int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
        if (fd < 0 || unlink(argv[2]) != 0) { perror("open/unlink"); return 2; }
        char *args[] = {"cat", "/etc/group", NULL};
        syscall(SYS_execveat, fd, "", args, environ, AT_EMPTY_PATH);
        perror("execveat");
        return 2;
    }
    if (argc >= 4 && strcmp(argv[1], "run") == 0) {
        char *path = argv[3];
        argv[3] = argv[2];
        execve(path, &argv[3], environ);
        perror("execve");
        return 2;
    }
    fprintf(stderr, "usage: identity selfexec ARGV0 | memfd | deleted PATH | run ARGV0 PATH [ARG...] | race DECOY TARGET\n");
    return 64;
}
