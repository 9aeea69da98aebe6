/*
 * faultinject.c: an LD_PRELOAD shim that makes chosen file calls of a process fail (EIO, ENOSPC, any
 * errno) or answer late, for files under one directory, so that a test can put the real server's
 * metadata (LMDB's data.mdb, written with pwrite/writev and synced with fdatasync) and its backing
 * devices on a failing disk without a kernel module or FUSE.
 *
 *   FAULT_DIR    only regular files whose real path lies under this directory are considered
 *   FAULT_RULES  rules separated by ';', each a list of fields separated by ',':
 *                  file=SUFFIX   the file's path ends with SUFFIX (e.g. data.mdb, /chunks.0); required
 *                  op=OPS        write, sync, read, joined by '+' (default write):
 *                                  write: write pwrite pwrite64 writev pwritev pwritev64 pwritev2 pwritev64v2
 *                                  sync:  fsync fdatasync sync_file_range
 *                                  read:  read pread pread64 readv preadv preadv64 preadv2 preadv64v2
 *                  range=A-B     only writes and reads that touch bytes [A, B) (syncs never match)
 *                  while=PATH    only while PATH exists (checked at every call: a test switches the
 *                                fault on and off by creating and deleting it while the process runs)
 *                  after=N       the first N matching calls pass (default 0)
 *                  count=N       then at most N matching calls fault (default: all)
 *                  errno=E       fail with E (EIO, ENOSPC, EDQUOT, EROFS or a number): the call does
 *                                nothing and returns -1
 *                  delay=MS      sleep MS milliseconds first (outside any lock of the shim), then do
 *                                the call (or fail it, with errno=)
 *                A call is counted by the first rule it matches (file, op, range, while).
 *   FAULT_LOG    optional: one line appended per fault made ("fault RULE OP PATH OFFSET LENGTH ERRNO DELAY")
 *
 * What it cannot do: reads through a mapping (LMDB reads data.mdb through mmap) never pass through
 * a call, so they cannot be failed or slowed here; an EIO there would be a SIGBUS anyway.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum { OP_WRITE = 1, OP_SYNC = 2, OP_READ = 4 };

struct rule {
    char suffix[256];
    char when[PATH_MAX];
    int ops;
    int has_range;
    uint64_t from, to;
    uint64_t after, count; /* count 0: unlimited */
    int err;
    long delay_ms;
    uint64_t seen;         /* matching calls so far (atomic) */
};

#define MAXRULES 16
static struct rule rules[MAXRULES];
static int nrules;
static char dir[PATH_MAX];
static size_t dirlen;
static int logfd = -1;
static int active;

#define MAXFD 65536
/* per fd: 0 unknown, -1 no rule's file, else 1 + index into paths[] */
static int fdstate[MAXFD];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
#define MAXPATHS 4096
static char *paths[MAXPATHS];
static int npaths;

static ssize_t (*r_write)(int, const void *, size_t);
static ssize_t (*r_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*r_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*r_writev)(int, const struct iovec *, int);
static ssize_t (*r_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*r_pwritev64)(int, const struct iovec *, int, off64_t);
static ssize_t (*r_pwritev2)(int, const struct iovec *, int, off_t, int);
static ssize_t (*r_pwritev64v2)(int, const struct iovec *, int, off64_t, int);
static ssize_t (*r_read)(int, void *, size_t);
static ssize_t (*r_pread)(int, void *, size_t, off_t);
static ssize_t (*r_pread64)(int, void *, size_t, off64_t);
static ssize_t (*r_readv)(int, const struct iovec *, int);
static ssize_t (*r_preadv)(int, const struct iovec *, int, off_t);
static ssize_t (*r_preadv64)(int, const struct iovec *, int, off64_t);
static ssize_t (*r_preadv2)(int, const struct iovec *, int, off_t, int);
static ssize_t (*r_preadv64v2)(int, const struct iovec *, int, off64_t, int);
static int (*r_fsync)(int);
static int (*r_fdatasync)(int);
static int (*r_sync_file_range)(int, off64_t, off64_t, unsigned int);
static int (*r_close)(int);
static int (*r_dup2)(int, int);
static int (*r_dup3)(int, int, int);
static int (*r_open)(const char *, int, ...);
static int (*r_open64)(const char *, int, ...);
static int (*r_openat)(int, const char *, int, ...);
static int (*r_openat64)(int, const char *, int, ...);

#define LOAD(n) r_##n = dlsym(RTLD_NEXT, #n)

static void die(const char *what, const char *detail) {
    fprintf(stderr, "faultinject: %s: %s\n", what, detail);
    abort();
}

static int parse_errno(const char *v) {
    if (strcmp(v, "EIO") == 0) return EIO;
    if (strcmp(v, "ENOSPC") == 0) return ENOSPC;
    if (strcmp(v, "EDQUOT") == 0) return EDQUOT;
    if (strcmp(v, "EROFS") == 0) return EROFS;
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == 0 || *end != 0 || n <= 0) die("errno= wants EIO, ENOSPC, EDQUOT, EROFS or a number", v);
    return (int) n;
}

static uint64_t parse_num(const char *v, const char *field) {
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (*v == 0 || *end != 0) die(field, v);
    return n;
}

static void parse_rule(char *text) {
    if (nrules == MAXRULES) die("too many rules", text);
    struct rule *r = &rules[nrules];
    memset(r, 0, sizeof *r);
    r->ops = OP_WRITE;
    char *save = NULL;
    for (char *f = strtok_r(text, ",", &save); f != NULL; f = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(f, '=');
        if (eq == NULL) die("a field is name=value", f);
        *eq = 0;
        const char *k = f, *v = eq + 1;
        if (strcmp(k, "file") == 0) {
            snprintf(r->suffix, sizeof r->suffix, "%s", v);
        } else if (strcmp(k, "op") == 0) {
            r->ops = 0;
            char buf[64];
            snprintf(buf, sizeof buf, "%s", v);
            char *s2 = NULL;
            for (char *o = strtok_r(buf, "+", &s2); o != NULL; o = strtok_r(NULL, "+", &s2)) {
                if (strcmp(o, "write") == 0) r->ops |= OP_WRITE;
                else if (strcmp(o, "sync") == 0) r->ops |= OP_SYNC;
                else if (strcmp(o, "read") == 0) r->ops |= OP_READ;
                else die("op= wants write, sync, read joined by +", o);
            }
        } else if (strcmp(k, "range") == 0) {
            char buf[64];
            snprintf(buf, sizeof buf, "%s", v);
            char *dash = strchr(buf, '-');
            if (dash == NULL) die("range= wants A-B", v);
            *dash = 0;
            r->from = parse_num(buf, "range= start");
            r->to = parse_num(dash + 1, "range= end");
            r->has_range = 1;
        } else if (strcmp(k, "while") == 0) {
            snprintf(r->when, sizeof r->when, "%s", v);
        } else if (strcmp(k, "after") == 0) {
            r->after = parse_num(v, "after=");
        } else if (strcmp(k, "count") == 0) {
            r->count = parse_num(v, "count=");
        } else if (strcmp(k, "errno") == 0) {
            r->err = parse_errno(v);
        } else if (strcmp(k, "delay") == 0) {
            r->delay_ms = (long) parse_num(v, "delay=");
        } else {
            die("unknown field", k);
        }
    }
    if (r->suffix[0] == 0) die("a rule needs file=", "");
    if (r->err == 0 && r->delay_ms == 0) die("a rule needs errno= or delay=", r->suffix);
    nrules++;
}

__attribute__((constructor)) static void init(void) {
    static int done;
    if (done) return;
    done = 1;
    LOAD(write); LOAD(pwrite); LOAD(pwrite64); LOAD(writev); LOAD(pwritev); LOAD(pwritev64); LOAD(pwritev2);
    LOAD(pwritev64v2); LOAD(read); LOAD(pread); LOAD(pread64); LOAD(readv); LOAD(preadv); LOAD(preadv64);
    LOAD(preadv2); LOAD(preadv64v2); LOAD(fsync); LOAD(fdatasync); LOAD(sync_file_range); LOAD(close);
    LOAD(dup2); LOAD(dup3); LOAD(open); LOAD(open64); LOAD(openat); LOAD(openat64);
    const char *d = getenv("FAULT_DIR");
    const char *rs = getenv("FAULT_RULES");
    if (d == NULL || rs == NULL || *rs == 0) return;
    if (realpath(d, dir) == NULL) die("FAULT_DIR", strerror(errno));
    dirlen = strlen(dir);
    char *copy = strdup(rs), *save = NULL;
    for (char *t = strtok_r(copy, ";", &save); t != NULL; t = strtok_r(NULL, ";", &save)) {
        if (*t) parse_rule(t);
    }
    free(copy);
    const char *l = getenv("FAULT_LOG");
    if (l != NULL && *l) {
        logfd = r_open(l, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (logfd < 0) die("FAULT_LOG", strerror(errno));
        if (logfd < MAXFD) fdstate[logfd] = -1;
    }
    active = nrules > 0;
}

/* The fd's state (see fdstate), resolving it through /proc/self/fd on first use. */
static int fd_state(int fd) {
    if (__builtin_expect(r_close == NULL, 0)) init(); /* called before our constructor ran */
    if (!active || fd < 0) return -1;
    int st = fd < MAXFD ? __atomic_load_n(&fdstate[fd], __ATOMIC_RELAXED) : 0;
    if (st != 0) return st;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    struct stat sb;
    st = -1;
    if (n > 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        path[n] = 0;
        size_t pl = (size_t) n;
        if (strncmp(path, dir, dirlen) == 0 && path[dirlen] == '/') {
            for (int i = 0; i < nrules && st == -1; i++) {
                size_t sl = strlen(rules[i].suffix);
                if (pl >= sl && strcmp(path + pl - sl, rules[i].suffix) == 0) {
                    pthread_mutex_lock(&mu);
                    int k = 0;
                    while (k < npaths && strcmp(paths[k], path) != 0) k++;
                    if (k == npaths && npaths < MAXPATHS) paths[npaths++] = strdup(path);
                    pthread_mutex_unlock(&mu);
                    if (k < MAXPATHS) st = k + 1;
                }
            }
        }
    }
    if (fd < MAXFD) __atomic_store_n(&fdstate[fd], st, __ATOMIC_RELAXED);
    return st;
}

static void forget(int fd) {
    if (fd >= 0 && fd < MAXFD) __atomic_store_n(&fdstate[fd], 0, __ATOMIC_RELAXED);
}

static int ranges_touch(const struct rule *r, uint64_t off, uint64_t len) {
    if (!r->has_range) return 1;
    return off < r->to && off + (len ? len : 1) > r->from;
}

static const char *opname(int op) {
    return op == OP_WRITE ? "write" : op == OP_SYNC ? "sync" : "read";
}

static uint64_t cur(int fd) {
    off_t o = lseek(fd, 0, SEEK_CUR);
    return o < 0 ? 0 : (uint64_t) o;
}

/*
 * Whether the call faults: 0 to go on (after the delay, when one applies without an errno), else
 * the errno to fail with. at < 0: the descriptor's current offset (looked up only for a file a
 * rule names, so sockets and pipes pay no extra system call).
 */
static int decide(int fd, int op, int64_t at, uint64_t len) {
    int st = fd_state(fd);
    if (st <= 0) return 0;
    uint64_t off = at < 0 ? cur(fd) : (uint64_t) at;
    const char *path = paths[st - 1];
    size_t pl = strlen(path);
    for (int i = 0; i < nrules; i++) {
        struct rule *r = &rules[i];
        size_t sl = strlen(r->suffix);
        if (!(r->ops & op) || pl < sl || strcmp(path + pl - sl, r->suffix) != 0) continue;
        if (op != OP_SYNC && !ranges_touch(r, off, len)) continue;
        if (op == OP_SYNC && r->has_range) continue;
        if (r->when[0] && access(r->when, F_OK) != 0) continue;
        uint64_t k = __atomic_add_fetch(&r->seen, 1, __ATOMIC_RELAXED);
        if (k <= r->after || (r->count > 0 && k > r->after + r->count)) return 0;
        if (logfd >= 0) {
            char line[PATH_MAX + 160];
            int m = snprintf(line, sizeof line, "fault %d %s %s %llu %llu %d %ld\n", i, opname(op), path,
                             (unsigned long long) off, (unsigned long long) len, r->err, r->delay_ms);
            if (m > 0) {
                ssize_t w = r_write(logfd, line, (size_t) m < sizeof line ? (size_t) m : sizeof line - 1);
                (void) w;
            }
        }
        if (r->delay_ms > 0) {
            struct timespec ts = {r->delay_ms / 1000, (r->delay_ms % 1000) * 1000000L};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            }
        }
        return r->err;
    }
    return 0;
}

static uint64_t iov_len(const struct iovec *iov, int cnt) {
    uint64_t n = 0;
    for (int i = 0; i < cnt; i++) n += iov[i].iov_len;
    return n;
}

#define FAIL_IF(fd, op, off, len)                                              \
    do {                                                                       \
        if (active) {                                                          \
            int e_ = decide(fd, op, off, len);                                 \
            if (e_) { errno = e_; return -1; }                                 \
        }                                                                      \
    } while (0)

/* ---- writes ---- */

ssize_t write(int fd, const void *b, size_t n) { FAIL_IF(fd, OP_WRITE, -1, n); return r_write(fd, b, n); }
ssize_t pwrite(int fd, const void *b, size_t n, off_t o) { FAIL_IF(fd, OP_WRITE, o, n); return r_pwrite(fd, b, n, o); }
ssize_t pwrite64(int fd, const void *b, size_t n, off64_t o) {
    FAIL_IF(fd, OP_WRITE, o, n);
    return r_pwrite64(fd, b, n, o);
}
ssize_t writev(int fd, const struct iovec *v, int c) {
    FAIL_IF(fd, OP_WRITE, -1, iov_len(v, c));
    return r_writev(fd, v, c);
}
ssize_t pwritev(int fd, const struct iovec *v, int c, off_t o) {
    FAIL_IF(fd, OP_WRITE, o, iov_len(v, c));
    return r_pwritev(fd, v, c, o);
}
ssize_t pwritev64(int fd, const struct iovec *v, int c, off64_t o) {
    FAIL_IF(fd, OP_WRITE, o, iov_len(v, c));
    return r_pwritev64(fd, v, c, o);
}
ssize_t pwritev2(int fd, const struct iovec *v, int c, off_t o, int f) {
    FAIL_IF(fd, OP_WRITE, o, iov_len(v, c));
    return r_pwritev2(fd, v, c, o, f);
}
ssize_t pwritev64v2(int fd, const struct iovec *v, int c, off64_t o, int f) {
    FAIL_IF(fd, OP_WRITE, o, iov_len(v, c));
    return r_pwritev64v2(fd, v, c, o, f);
}

/* ---- reads (calls only: not mapped pages) ---- */

ssize_t read(int fd, void *b, size_t n) { FAIL_IF(fd, OP_READ, -1, n); return r_read(fd, b, n); }
ssize_t pread(int fd, void *b, size_t n, off_t o) { FAIL_IF(fd, OP_READ, o, n); return r_pread(fd, b, n, o); }
ssize_t pread64(int fd, void *b, size_t n, off64_t o) { FAIL_IF(fd, OP_READ, o, n); return r_pread64(fd, b, n, o); }
ssize_t readv(int fd, const struct iovec *v, int c) {
    FAIL_IF(fd, OP_READ, -1, iov_len(v, c));
    return r_readv(fd, v, c);
}
ssize_t preadv(int fd, const struct iovec *v, int c, off_t o) {
    FAIL_IF(fd, OP_READ, o, iov_len(v, c));
    return r_preadv(fd, v, c, o);
}
ssize_t preadv64(int fd, const struct iovec *v, int c, off64_t o) {
    FAIL_IF(fd, OP_READ, o, iov_len(v, c));
    return r_preadv64(fd, v, c, o);
}
ssize_t preadv2(int fd, const struct iovec *v, int c, off_t o, int f) {
    FAIL_IF(fd, OP_READ, o, iov_len(v, c));
    return r_preadv2(fd, v, c, o, f);
}
ssize_t preadv64v2(int fd, const struct iovec *v, int c, off64_t o, int f) {
    FAIL_IF(fd, OP_READ, o, iov_len(v, c));
    return r_preadv64v2(fd, v, c, o, f);
}

/* ---- syncs ---- */

int fsync(int fd) { FAIL_IF(fd, OP_SYNC, 0, 0); return r_fsync(fd); }
int fdatasync(int fd) { FAIL_IF(fd, OP_SYNC, 0, 0); return r_fdatasync(fd); }
int sync_file_range(int fd, off64_t o, off64_t n, unsigned int f) {
    FAIL_IF(fd, OP_SYNC, 0, 0);
    return r_sync_file_range(fd, o, n, f);
}

/* ---- descriptor numbers: a new or closed number is resolved again ---- */

#define OPEN_MODE(flags) \
    mode_t mode = 0; \
    if ((flags) & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }

static int opened(int fd) { if (fd >= 0) forget(fd); return fd; }

int open(const char *p, int flags, ...) { OPEN_MODE(flags) return opened(r_open(p, flags, mode)); }
int open64(const char *p, int flags, ...) { OPEN_MODE(flags) return opened(r_open64(p, flags, mode)); }
int openat(int d, const char *p, int flags, ...) { OPEN_MODE(flags) return opened(r_openat(d, p, flags, mode)); }
int openat64(int d, const char *p, int flags, ...) { OPEN_MODE(flags) return opened(r_openat64(d, p, flags, mode)); }

int close(int fd) {
    if (__builtin_expect(r_close == NULL, 0)) init();
    if (fd == logfd && logfd >= 0) { errno = EBADF; return -1; } /* nobody closes the log under us */
    int r = r_close(fd);
    forget(fd);
    return r;
}

int dup2(int o, int n) {
    if (__builtin_expect(r_close == NULL, 0)) init();
    int r = r_dup2(o, n);
    if (r >= 0) forget(n);
    return r;
}

int dup3(int o, int n, int flags) {
    if (__builtin_expect(r_close == NULL, 0)) init();
    int r = r_dup3(o, n, flags);
    if (r >= 0) forget(n);
    return r;
}
