/* One static program for the behaviours of Falco's rules that no stock
 * tool performs on its own (sensor/tests/kernel_falco_*.rs). Tests copy it
 * under the name a rule keys on (nginx, xmrig, kubectl, ...): the first
 * argument chooses what it does, so the name is free. Arguments of the form
 * `--tag=...` are ignored: they only make the command line unique.
 *
 * Network actions go to the addresses the test gives: loopback, or
 * addresses the test put on the loopback device of a network namespace it
 * created. Nothing here changes system state beyond the process itself.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

static int argc_;
static char **argv_;

/* The n-th argument that is not a tag (0 = the action). */
static const char *arg(int n) {
    for (int i = 1; i < argc_; i++) {
        if (strncmp(argv_[i], "--tag=", 6) == 0)
            continue;
        if (n-- == 0)
            return argv_[i];
    }
    fprintf(stderr, "falco_helper: missing argument\n");
    exit(2);
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void sockaddr_of(struct sockaddr_in *sa, const char *ip, const char *port) {
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((unsigned short)atoi(port));
    if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1) {
        fprintf(stderr, "falco_helper: bad address %s\n", ip);
        exit(2);
    }
}

/* connect IP PORT tcp|udp: a TCP connect retries (up to 5 s) until the
 * test's listener is up; a UDP socket is connected and sends one datagram. */
static int do_connect(void) {
    struct sockaddr_in sa;
    sockaddr_of(&sa, arg(1), arg(2));
    int udp = strcmp(arg(3), "udp") == 0;
    for (int i = 0; i < 100; i++) {
        int s = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
        if (s < 0)
            die("socket");
        if (connect(s, (struct sockaddr *)&sa, sizeof sa) == 0) {
            if (udp && send(s, "x", 1, 0) < 0)
                die("send");
            close(s);
            return 0;
        }
        if (errno != ECONNREFUSED)
            die("connect");
        close(s);
        usleep(50000);
    }
    fprintf(stderr, "falco_helper: nobody listens\n");
    return 1;
}

/* serve IP PORT: listen, accept one connection, close. */
static int do_serve(void) {
    struct sockaddr_in sa;
    sockaddr_of(&sa, arg(1), arg(2));
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (s < 0)
        die("socket");
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("bind");
    if (listen(s, 4) < 0)
        die("listen");
    int c = accept(s, NULL, NULL);
    if (c < 0)
        die("accept");
    close(c);
    close(s);
    return 0;
}

/* send-class IP PORT: serve one connection, sending a Java class header. */
static int do_send_class(void) {
    struct sockaddr_in sa;
    sockaddr_of(&sa, arg(1), arg(2));
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (s < 0)
        die("socket");
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(s, 4) < 0)
        die("bind/listen");
    int c = accept(s, NULL, NULL);
    if (c < 0)
        die("accept");
    static const unsigned char cls[] = {0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52};
    if (write(c, cls, sizeof cls) < 0)
        die("write");
    close(c);
    close(s);
    return 0;
}

/* recv IP PORT: connect (retrying) and recvfrom what the server sends. */
static int do_recv(void) {
    struct sockaddr_in sa;
    sockaddr_of(&sa, arg(1), arg(2));
    for (int i = 0; i < 100; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0)
            die("socket");
        if (connect(s, (struct sockaddr *)&sa, sizeof sa) == 0) {
            char buf[64];
            if (recvfrom(s, buf, sizeof buf, 0, NULL, NULL) < 0)
                die("recvfrom");
            close(s);
            return 0;
        }
        close(s);
        usleep(50000);
    }
    return 1;
}

/* run PROG ARGS...: fork, exec, wait; exits with the child's status. */
static int do_run(void) {
    int first = 0;
    for (int i = 1, n = 0; i < argc_; i++) {
        if (strncmp(argv_[i], "--tag=", 6) == 0)
            continue;
        if (n++ == 1) {
            first = i;
            break;
        }
    }
    if (!first)
        return 2;
    pid_t p = fork();
    if (p < 0)
        die("fork");
    if (p == 0) {
        execv(argv_[first], argv_ + first);
        die("execv");
    }
    int st;
    if (waitpid(p, &st, 0) < 0)
        die("waitpid");
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int main(int argc, char **argv) {
    argc_ = argc;
    argv_ = argv;
    const char *a = arg(0);
    if (!strcmp(a, "true"))
        return 0;
    if (!strcmp(a, "run"))
        return do_run();
    if (!strcmp(a, "connect"))
        return do_connect();
    if (!strcmp(a, "serve"))
        return do_serve();
    if (!strcmp(a, "send-class"))
        return do_send_class();
    if (!strcmp(a, "recv"))
        return do_recv();
    if (!strcmp(a, "open-read") || !strcmp(a, "sleep-open-read")) {
        if (a[0] == 's') {
            struct timespec t = {atoi(arg(2)) / 1000, (atoi(arg(2)) % 1000) * 1000000L};
            nanosleep(&t, NULL);
        }
        int fd = open(arg(1), O_RDONLY);
        if (fd < 0)
            die("open");
        close(fd);
        return 0;
    }
    if (!strcmp(a, "sleep")) {
        struct timespec t = {atoi(arg(1)) / 1000, (atoi(arg(1)) % 1000) * 1000000L};
        nanosleep(&t, NULL);
        return 0;
    }
    if (!strcmp(a, "open-write") || !strcmp(a, "open-append")) {
        /* open-write creates and truncates; open-append appends to a file
         * that must exist (no O_CREAT). */
        int flags = a[5] == 'w' ? O_WRONLY | O_CREAT | O_TRUNC : O_WRONLY | O_APPEND;
        int fd = open(arg(1), flags, 0644);
        if (fd < 0)
            die("open");
        if (write(fd, "x\n", 2) < 0)
            die("write");
        close(fd);
        return 0;
    }
    if (!strcmp(a, "ptrace-attach")) {
        pid_t p = (pid_t)atoi(arg(1));
        if (ptrace(PTRACE_ATTACH, p, NULL, NULL) < 0)
            die("ptrace(PTRACE_ATTACH)");
        waitpid(p, NULL, 0);
        ptrace(PTRACE_DETACH, p, NULL, NULL);
        return 0;
    }
    if (!strcmp(a, "packet-socket")) {
        int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
        if (s < 0)
            die("socket(AF_PACKET)");
        close(s);
        return 0;
    }
    if (!strcmp(a, "setuid")) {
        /* The outcome does not matter: the attempt is the behaviour. */
        (void)setuid((uid_t)atoi(arg(1)));
        return 0;
    }
    if (!strcmp(a, "userfaultfd")) {
        long fd = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
        if (fd < 0)
            die("userfaultfd");
        close((int)fd);
        return 0;
    }
    if (!strcmp(a, "traceme")) {
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
            die("ptrace(PTRACE_TRACEME)");
        return 0;
    }
    if (!strcmp(a, "setns")) {
        /* Joins the network namespace it is already in. */
        int fd = open("/proc/self/ns/net", O_RDONLY);
        if (fd < 0)
            die("open ns");
        if (setns(fd, CLONE_NEWNET) < 0)
            die("setns");
        close(fd);
        return 0;
    }
    if (!strcmp(a, "init-module")) {
        /* Four bytes are no ELF image: the kernel refuses them (ENOEXEC)
         * after the capability check; nothing is loaded. */
        (void)syscall(SYS_init_module, "nope", 4UL, "");
        return 0;
    }
    if (!strcmp(a, "bpf-prog-load")) {
        /* A socket filter that returns 0, freed when the process exits. */
        struct bpf_insn insns[] = {
            {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
            {.code = BPF_JMP | BPF_EXIT},
        };
        union bpf_attr attr;
        memset(&attr, 0, sizeof attr);
        attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
        attr.insns = (unsigned long)insns;
        attr.insn_cnt = 2;
        attr.license = (unsigned long)"GPL";
        long fd = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
        if (fd < 0)
            die("bpf(BPF_PROG_LOAD)");
        close((int)fd);
        return 0;
    }
    if (!strcmp(a, "connect-unix")) {
        /* connect-unix PATH: one stream connection to a Unix socket. */
        struct sockaddr_un su;
        memset(&su, 0, sizeof su);
        su.sun_family = AF_UNIX;
        strncpy(su.sun_path, arg(1), sizeof su.sun_path - 1);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        if (s < 0)
            die("socket(AF_UNIX)");
        if (connect(s, (struct sockaddr *)&su, sizeof su) < 0)
            die("connect(AF_UNIX)");
        close(s);
        return 0;
    }
    if (!strcmp(a, "capset")) {
        /* capset UID: keep the permitted set across setresuid(UID), then
         * raise the effective set again as that user. */
        uid_t u = (uid_t)atoi(arg(1));
        if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0 || setresuid(u, u, u) < 0)
            die("keepcaps/setresuid");
        struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct d[2];
        if (syscall(SYS_capget, &h, d) < 0)
            die("capget");
        d[0].effective = d[0].permitted;
        d[1].effective = d[1].permitted;
        if (syscall(SYS_capset, &h, d) < 0)
            die("capset");
        return 0;
    }
    if (!strcmp(a, "memfd-exec")) {
        /* memfd-exec ARGS...: copies itself into a memfd and runs that
         * copy with `true ARGS...` (a fileless execution). */
        int in = open("/proc/self/exe", O_RDONLY);
        int m = memfd_create("payload", MFD_CLOEXEC);
        if (in < 0 || m < 0)
            die("open/memfd_create");
        char buf[65536];
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(m, buf, (size_t)n) != n)
                die("write");
        close(in);
        argv_[1] = "true";
        char *envp[] = {NULL};
        fexecve(m, argv_, envp);
        die("fexecve");
    }
    fprintf(stderr, "falco_helper: unknown action %s\n", a);
    return 2;
}
