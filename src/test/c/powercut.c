/*
 * powercut.c: an LD_PRELOAD shim that records, in completion order, every change a process makes
 * to the files under one directory, so that a test can rebuild the directory as a power cut at any
 * instant could have left it (the manner of dm-log-writes / CrashMonkey, in user space).
 *
 *   POWERCUT_DIR  only files whose real path lies under this directory are tracked
 *   POWERCUT_LOG  the log file (appended, unbuffered: a kill -9 of the process keeps it)
 *
 * Every wrapped call on a tracked file runs under one global mutex; when it succeeded, its record
 * is appended with the real write() before the mutex is released, so the log order is the
 * completion order. Records (little-endian): a 32-byte header {u32 type, u32 file, u64 a, u64 b,
 * u32 dlen, u32 0} followed by dlen bytes of data. Types:
 *   1 NAME      file id -> path relative to POWERCUT_DIR (data); the file exists from here on
 *   2 WRITE     file, a = offset, data = the bytes written
 *   3 DWRITE    as WRITE, on a descriptor opened with O_DSYNC/O_SYNC: durable when it returns
 *   4 SYNC      file (fsync, fdatasync, sync_file_range with SYNC_FILE_RANGE_WAIT_AFTER)
 *   5 SYNCALL   sync(), syncfs()
 *   6 TRUNCATE  file, a = new length (ftruncate, open with O_TRUNC)
 *   7 PUNCH     file, a = offset, b = length (fallocate PUNCH_HOLE / ZERO_RANGE: zeros)
 *   8 EXTEND    file, a = at least this long (fallocate without KEEP_SIZE)
 *   9 RENAME    file (source) -> a (destination file id); the destination's old content is gone
 *  10 DELETE    file (unlink)
 *  11 UNSUPPORTED data = what was done (a shared writable mapping, a rename from outside ...):
 *               the replay refuses a log holding one
 * Directory changes (create, rename, unlink) are taken as durable in order (no directory model).
 * LMDB's lock file (lock.mdb) is mapped shared and writable by design and reset at every open by
 * the first process: its mapping is not a data path and is not reported.
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum { R_NAME = 1, R_WRITE, R_DWRITE, R_SYNC, R_SYNCALL, R_TRUNCATE, R_PUNCH, R_EXTEND, R_RENAME, R_DELETE,
       R_UNSUPPORTED };

struct hdr {
    uint32_t type, file;
    uint64_t a, b;
    uint32_t dlen, pad;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char dir[PATH_MAX];
static size_t dirlen;
static int logfd = -1;

#define MAXFD 65536
/* per fd: 0 unknown, -1 untracked, else file id + 1 (bit 30 set: O_DSYNC) */
static int fdstate[MAXFD];
#define DSYNC_BIT (1 << 30)

#define MAXFILES 65536
static char *names[MAXFILES];
static int nfiles;

static ssize_t (*r_write)(int, const void *, size_t);
static ssize_t (*r_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*r_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*r_writev)(int, const struct iovec *, int);
static ssize_t (*r_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*r_pwritev64)(int, const struct iovec *, int, off64_t);
static ssize_t (*r_pwritev2)(int, const struct iovec *, int, off_t, int);
static ssize_t (*r_pwritev64v2)(int, const struct iovec *, int, off64_t, int);
static int (*r_fsync)(int);
static int (*r_fdatasync)(int);
static int (*r_sync_file_range)(int, off64_t, off64_t, unsigned int);
static void (*r_sync)(void);
static int (*r_syncfs)(int);
static int (*r_ftruncate)(int, off_t);
static int (*r_ftruncate64)(int, off64_t);
static int (*r_fallocate)(int, int, off_t, off_t);
static int (*r_fallocate64)(int, int, off64_t, off64_t);
static int (*r_posix_fallocate)(int, off_t, off_t);
static int (*r_posix_fallocate64)(int, off64_t, off64_t);
static int (*r_rename)(const char *, const char *);
static int (*r_renameat)(int, const char *, int, const char *);
static int (*r_renameat2)(int, const char *, int, const char *, unsigned int);
static int (*r_unlink)(const char *);
static int (*r_unlinkat)(int, const char *, int);
static int (*r_close)(int);
static int (*r_dup2)(int, int);
static int (*r_dup3)(int, int, int);
static void *(*r_mmap)(void *, size_t, int, int, int, off_t);
static void *(*r_mmap64)(void *, size_t, int, int, int, off64_t);
static int (*r_open)(const char *, int, ...);
static int (*r_open64)(const char *, int, ...);
static int (*r_openat)(int, const char *, int, ...);
static int (*r_openat64)(int, const char *, int, ...);

#define LOAD(n) r_##n = dlsym(RTLD_NEXT, #n)

__attribute__((constructor)) static void init(void) {
    static int done;
    if (done) return;
    done = 1;
    LOAD(write); LOAD(pwrite); LOAD(pwrite64); LOAD(writev); LOAD(pwritev); LOAD(pwritev64); LOAD(pwritev2);
    LOAD(pwritev64v2); LOAD(fsync); LOAD(fdatasync); LOAD(sync_file_range); LOAD(sync); LOAD(syncfs);
    LOAD(ftruncate); LOAD(ftruncate64); LOAD(fallocate); LOAD(fallocate64); LOAD(posix_fallocate);
    LOAD(posix_fallocate64); LOAD(rename); LOAD(renameat); LOAD(renameat2); LOAD(unlink); LOAD(unlinkat);
    LOAD(close); LOAD(dup2); LOAD(dup3); LOAD(mmap); LOAD(mmap64); LOAD(open); LOAD(open64); LOAD(openat); LOAD(openat64);
    const char *d = getenv("POWERCUT_DIR");
    const char *l = getenv("POWERCUT_LOG");
    if (d == NULL || l == NULL) {
        return;
    }
    if (realpath(d, dir) == NULL) {
        fprintf(stderr, "powercut: POWERCUT_DIR %s: %s\n", d, strerror(errno));
        abort();
    }
    dirlen = strlen(dir);
    logfd = r_open(l, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) {
        fprintf(stderr, "powercut: POWERCUT_LOG %s: %s\n", l, strerror(errno));
        abort();
    }
    /* the log outlives any fd number the process may reuse: keep it out of the cache */
    if (logfd < MAXFD) {
        fdstate[logfd] = -1;
    }
}

static void put(uint32_t type, int file, uint64_t a, uint64_t b, const struct iovec *data, int n) {
    struct iovec v[64];
    struct hdr h = {type, (uint32_t) file, a, b, 0, 0};
    int k = 1;
    v[0].iov_base = &h;
    v[0].iov_len = sizeof h;
    for (int i = 0; i < n && k < 64; i++) {
        if (data[i].iov_len > 0) {
            v[k++] = data[i];
            h.dlen += data[i].iov_len;
        }
    }
    if (k == 64 && n >= 64) { /* too many pieces: one buffer */
        size_t total = 0;
        for (int i = 0; i < n; i++) total += data[i].iov_len;
        char *buf = malloc(total);
        size_t at = 0;
        for (int i = 0; i < n; i++) { memcpy(buf + at, data[i].iov_base, data[i].iov_len); at += data[i].iov_len; }
        struct iovec one = {buf, total};
        put(type, file, a, b, &one, 1);
        free(buf);
        return;
    }
    /* the real writev, looping over short writes */
    int first = 0;
    while (first < k) {
        ssize_t w = r_writev(logfd, v + first, k - first);
        if (w < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "powercut: cannot append to the log: %s\n", strerror(errno));
            abort();
        }
        while (first < k && (size_t) w >= v[first].iov_len) { w -= v[first].iov_len; first++; }
        if (first < k) { v[first].iov_base = (char *) v[first].iov_base + w; v[first].iov_len -= w; }
    }
}

static void put_buf(uint32_t type, int file, uint64_t a, uint64_t b, const void *buf, size_t len) {
    struct iovec v = {(void *) buf, len};
    put(type, file, a, b, &v, 1);
}

/* The id of a tracked real path (absolute, canonical), registering it; -1 when it is not under dir. */
static int file_id(const char *path) {
    if (dirlen == 0 || strncmp(path, dir, dirlen) != 0 || path[dirlen] != '/') {
        return -1;
    }
    const char *rel = path + dirlen + 1;
    for (int i = 0; i < nfiles; i++) {
        if (strcmp(names[i], rel) == 0) return i;
    }
    if (nfiles == MAXFILES) {
        fprintf(stderr, "powercut: too many files\n");
        abort();
    }
    names[nfiles] = strdup(rel);
    put_buf(R_NAME, nfiles, 0, 0, rel, strlen(rel));
    return nfiles++;
}

/* Under mu: the fd's state (see fdstate), resolving it through /proc/self/fd on first use. */
static int fd_state(int fd) {
    if (logfd < 0 || fd < 0) return -1;
    if (fd < MAXFD && fdstate[fd] != 0) return fdstate[fd];
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    int st = -1;
    struct stat sb;
    /* regular files only: directories (fsync of a directory), sockets, pipes are not tracked */
    if (n > 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        path[n] = 0;
        int id = file_id(path);
        if (id >= 0) {
            st = id + 1;
            int fl = fcntl(fd, F_GETFL);
            if (fl >= 0 && (fl & O_DSYNC)) st |= DSYNC_BIT;
        }
    }
    if (fd < MAXFD) fdstate[fd] = st;
    return st;
}

static inline int tracked(int st) { return st > 0; }
static inline int fid(int st) { return (st & ~DSYNC_BIT) - 1; }
static inline uint32_t wtype(int st) { return (st & DSYNC_BIT) ? R_DWRITE : R_WRITE; }

/* Cheap check without the lock: a descriptor known untracked (sockets, pipes, other files). */
static inline int known_untracked(int fd) {
    if (__builtin_expect(r_close == NULL, 0)) init(); /* called before our constructor ran */
    return logfd < 0 || (fd >= 0 && fd < MAXFD && __atomic_load_n(&fdstate[fd], __ATOMIC_RELAXED) == -1);
}

static void put_iov(int st, uint64_t off, const struct iovec *iov, int cnt, ssize_t done) {
    struct iovec v[cnt > 0 ? cnt : 1];
    int k = 0;
    size_t left = (size_t) done;
    for (int i = 0; i < cnt && left > 0; i++) {
        size_t l = iov[i].iov_len < left ? iov[i].iov_len : left;
        v[k].iov_base = iov[i].iov_base;
        v[k].iov_len = l;
        k++;
        left -= l;
    }
    put(wtype(st), fid(st), off, 0, v, k);
}

/* ---- writes ---- */

ssize_t write(int fd, const void *buf, size_t len) {
    if (known_untracked(fd)) return r_write(fd, buf, len);
    pthread_mutex_lock(&mu);
    int st = fd_state(fd);
    ssize_t n = r_write(fd, buf, len);
    if (n > 0 && tracked(st)) {
        int e = errno;
        off_t end = lseek(fd, 0, SEEK_CUR);
        put_buf(wtype(st), fid(st), (uint64_t) (end - n), 0, buf, (size_t) n);
        errno = e;
    }
    pthread_mutex_unlock(&mu);
    return n;
}

#define PWRITE_BODY(realf)                                                     \
    if (known_untracked(fd)) return realf(fd, buf, len, off);                  \
    pthread_mutex_lock(&mu);                                                   \
    int st = fd_state(fd);                                                     \
    ssize_t n = realf(fd, buf, len, off);                                      \
    if (n > 0 && tracked(st)) {                                                \
        int e = errno;                                                         \
        put_buf(wtype(st), fid(st), (uint64_t) off, 0, buf, (size_t) n);       \
        errno = e;                                                             \
    }                                                                          \
    pthread_mutex_unlock(&mu);                                                 \
    return n;

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off) { PWRITE_BODY(r_pwrite) }
ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off) { PWRITE_BODY(r_pwrite64) }

ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    if (known_untracked(fd)) return r_writev(fd, iov, cnt);
    pthread_mutex_lock(&mu);
    int st = fd_state(fd);
    ssize_t n = r_writev(fd, iov, cnt);
    if (n > 0 && tracked(st)) {
        int e = errno;
        off_t end = lseek(fd, 0, SEEK_CUR);
        put_iov(st, (uint64_t) (end - n), iov, cnt, n);
        errno = e;
    }
    pthread_mutex_unlock(&mu);
    return n;
}

#define PWRITEV_BODY(call)                                                     \
    if (known_untracked(fd)) return call;                                      \
    pthread_mutex_lock(&mu);                                                   \
    int st = fd_state(fd);                                                     \
    off_t at = off == -1 ? lseek(fd, 0, SEEK_CUR) : (off_t) off;               \
    ssize_t n = call;                                                          \
    if (n > 0 && tracked(st)) {                                                \
        int e = errno;                                                         \
        put_iov(st, (uint64_t) at, iov, cnt, n);                               \
        errno = e;                                                             \
    }                                                                          \
    pthread_mutex_unlock(&mu);                                                 \
    return n;

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) { PWRITEV_BODY(r_pwritev(fd, iov, cnt, off)) }
ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off) {
    PWRITEV_BODY(r_pwritev64(fd, iov, cnt, off))
}
ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags) {
    PWRITEV_BODY(r_pwritev2(fd, iov, cnt, off, flags))
}
ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int flags) {
    PWRITEV_BODY(r_pwritev64v2(fd, iov, cnt, off, flags))
}

/* ---- syncs ---- */

#define SYNC_BODY(call, record)                                                \
    if (known_untracked(fd)) return call;                                      \
    pthread_mutex_lock(&mu);                                                   \
    int st = fd_state(fd);                                                     \
    int r = call;                                                              \
    if (r == 0 && tracked(st) && (record)) put(R_SYNC, fid(st), 0, 0, NULL, 0); \
    pthread_mutex_unlock(&mu);                                                 \
    return r;

int fsync(int fd) { SYNC_BODY(r_fsync(fd), 1) }
int fdatasync(int fd) { SYNC_BODY(r_fdatasync(fd), 1) }
int sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags) {
    SYNC_BODY(r_sync_file_range(fd, off, n, flags), (flags & SYNC_FILE_RANGE_WAIT_AFTER) != 0)
}

void sync(void) {
    pthread_mutex_lock(&mu);
    r_sync();
    if (logfd >= 0) put(R_SYNCALL, 0, 0, 0, NULL, 0);
    pthread_mutex_unlock(&mu);
}

int syncfs(int fd) {
    pthread_mutex_lock(&mu);
    int r = r_syncfs(fd);
    if (r == 0 && logfd >= 0) put(R_SYNCALL, 0, 0, 0, NULL, 0);
    pthread_mutex_unlock(&mu);
    return r;
}

/* ---- size changes ---- */

#define TRUNC_BODY(realf)                                                      \
    if (known_untracked(fd)) return realf(fd, len);                            \
    pthread_mutex_lock(&mu);                                                   \
    int st = fd_state(fd);                                                     \
    int r = realf(fd, len);                                                    \
    if (r == 0 && tracked(st)) put(R_TRUNCATE, fid(st), (uint64_t) len, 0, NULL, 0); \
    pthread_mutex_unlock(&mu);                                                 \
    return r;

int ftruncate(int fd, off_t len) { TRUNC_BODY(r_ftruncate) }
int ftruncate64(int fd, off64_t len) { TRUNC_BODY(r_ftruncate64) }

static void put_fallocate(int st, int mode, uint64_t off, uint64_t len) {
    if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
        put(R_PUNCH, fid(st), off, len, NULL, 0);
        if (!(mode & FALLOC_FL_KEEP_SIZE)) put(R_EXTEND, fid(st), off + len, 0, NULL, 0);
    } else if (mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)) {
        const char *m = "fallocate collapse/insert range";
        put_buf(R_UNSUPPORTED, fid(st), off, len, m, strlen(m));
    } else if (!(mode & FALLOC_FL_KEEP_SIZE)) {
        put(R_EXTEND, fid(st), off + len, 0, NULL, 0);
    }
}

#define FALLOC_BODY(call, mode)                                                \
    if (known_untracked(fd)) return call;                                      \
    pthread_mutex_lock(&mu);                                                   \
    int st = fd_state(fd);                                                     \
    int r = call;                                                              \
    if (r == 0 && tracked(st)) put_fallocate(st, mode, (uint64_t) off, (uint64_t) len); \
    pthread_mutex_unlock(&mu);                                                 \
    return r;

int fallocate(int fd, int mode, off_t off, off_t len) { FALLOC_BODY(r_fallocate(fd, mode, off, len), mode) }
int fallocate64(int fd, int mode, off64_t off, off64_t len) { FALLOC_BODY(r_fallocate64(fd, mode, off, len), mode) }
int posix_fallocate(int fd, off_t off, off_t len) { FALLOC_BODY(r_posix_fallocate(fd, off, len), 0) }
int posix_fallocate64(int fd, off64_t off, off64_t len) { FALLOC_BODY(r_posix_fallocate64(fd, off, len), 0) }

/* ---- names ---- */

/* The canonical absolute form of dirfd/path (its parent resolved; the last component kept). */
static int canon(int dirfd, const char *path, char *out) {
    char full[PATH_MAX * 2];
    if (path[0] == '/') {
        snprintf(full, sizeof full, "%s", path);
    } else if (dirfd == AT_FDCWD) {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof cwd) == NULL) return -1;
        snprintf(full, sizeof full, "%s/%s", cwd, path);
    } else {
        char link[64], d[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
        ssize_t n = readlink(link, d, sizeof d - 1);
        if (n <= 0) return -1;
        d[n] = 0;
        snprintf(full, sizeof full, "%s/%s", d, path);
    }
    char *slash = strrchr(full, '/');
    char parent[PATH_MAX];
    *slash = 0;
    if (realpath(full[0] ? full : "/", parent) == NULL) return -1;
    snprintf(out, PATH_MAX * 2 + 2, "%s/%s", parent, slash + 1);
    return 0;
}

static int under(const char *p) {
    return dirlen > 0 && strncmp(p, dir, dirlen) == 0 && p[dirlen] == '/';
}

static void forget_fds(void) {
    /* a rename changes what /proc/self/fd shows: resolve every descriptor again */
    for (int i = 0; i < MAXFD; i++) {
        if (fdstate[i] > 0) fdstate[i] = 0;
    }
}

static int do_rename(int od, const char *op, int nd, const char *np, unsigned int flags, int which) {
    if (logfd < 0) {
        return which == 0 ? r_rename(op, np) : which == 1 ? r_renameat(od, op, nd, np) : r_renameat2(od, op, nd, np, flags);
    }
    pthread_mutex_lock(&mu);
    char from[PATH_MAX * 2 + 2], to[PATH_MAX * 2 + 2];
    int okf = canon(od, op, from) == 0, okt = canon(nd, np, to) == 0;
    int r = which == 0 ? r_rename(op, np) : which == 1 ? r_renameat(od, op, nd, np) : r_renameat2(od, op, nd, np, flags);
    if (r == 0 && okf && okt && (under(from) || under(to))) {
        int e = errno;
        if (!under(from) || (flags & RENAME_EXCHANGE)) {
            char m[PATH_MAX * 5];
            snprintf(m, sizeof m, "rename %s -> %s%s", from, to, (flags & RENAME_EXCHANGE) ? " (exchange)" : "");
            put_buf(R_UNSUPPORTED, 0, 0, 0, m, strlen(m));
        } else if (!under(to)) {
            put(R_DELETE, file_id(from), 0, 0, NULL, 0);
        } else {
            int f = file_id(from), t = file_id(to);
            put(R_RENAME, f, (uint64_t) t, 0, NULL, 0);
        }
        forget_fds();
        errno = e;
    }
    pthread_mutex_unlock(&mu);
    return r;
}

int rename(const char *o, const char *n) { return do_rename(AT_FDCWD, o, AT_FDCWD, n, 0, 0); }
int renameat(int od, const char *o, int nd, const char *n) { return do_rename(od, o, nd, n, 0, 1); }
int renameat2(int od, const char *o, int nd, const char *n, unsigned int f) { return do_rename(od, o, nd, n, f, 2); }

static int do_unlink(int d, const char *p, int flags, int which) {
    if (logfd < 0) return which == 0 ? r_unlink(p) : r_unlinkat(d, p, flags);
    pthread_mutex_lock(&mu);
    char abs[PATH_MAX * 2 + 2];
    int ok = canon(d, p, abs) == 0;
    int r = which == 0 ? r_unlink(p) : r_unlinkat(d, p, flags);
    if (r == 0 && ok && under(abs) && !(flags & AT_REMOVEDIR)) {
        int e = errno;
        put(R_DELETE, file_id(abs), 0, 0, NULL, 0);
        forget_fds();
        errno = e;
    }
    pthread_mutex_unlock(&mu);
    return r;
}

int unlink(const char *p) { return do_unlink(AT_FDCWD, p, 0, 0); }
int unlinkat(int d, const char *p, int flags) { return do_unlink(d, p, flags, 1); }

/* open: a new descriptor number is resolved again; O_TRUNC empties the file, O_CREAT names it */
static int after_open(int fd, int flags) {
    if (fd < 0 || logfd < 0) return fd;
    int e = errno;
    pthread_mutex_lock(&mu);
    if (fd < MAXFD) fdstate[fd] = 0;
    int st = fd_state(fd);
    if (tracked(st) && (flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY) {
        put(R_TRUNCATE, fid(st), 0, 0, NULL, 0);
    }
    pthread_mutex_unlock(&mu);
    errno = e;
    return fd;
}

#define OPEN_MODE(flags) \
    mode_t mode = 0; \
    if ((flags) & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }

int open(const char *p, int flags, ...) { OPEN_MODE(flags) return after_open(r_open(p, flags, mode), flags); }
int open64(const char *p, int flags, ...) { OPEN_MODE(flags) return after_open(r_open64(p, flags, mode), flags); }
int openat(int d, const char *p, int flags, ...) { OPEN_MODE(flags) return after_open(r_openat(d, p, flags, mode), flags); }
int openat64(int d, const char *p, int flags, ...) {
    OPEN_MODE(flags) return after_open(r_openat64(d, p, flags, mode), flags);
}

int close(int fd) {
    if (logfd < 0 || fd < 0 || fd >= MAXFD) return r_close(fd);
    if (fd == logfd) { errno = EBADF; return -1; } /* nobody closes the log under us */
    pthread_mutex_lock(&mu);
    int r = r_close(fd);
    fdstate[fd] = 0;
    pthread_mutex_unlock(&mu);
    return r;
}

/* dup2/dup3 close the target number silently: forget what it was */
int dup2(int o, int n) {
    if (logfd < 0 || n < 0 || n >= MAXFD) return r_dup2(o, n);
    pthread_mutex_lock(&mu);
    int r = r_dup2(o, n);
    if (r >= 0) fdstate[n] = 0;
    pthread_mutex_unlock(&mu);
    return r;
}

int dup3(int o, int n, int flags) {
    if (logfd < 0 || n < 0 || n >= MAXFD) return r_dup3(o, n, flags);
    pthread_mutex_lock(&mu);
    int r = r_dup3(o, n, flags);
    if (r >= 0) fdstate[n] = 0;
    pthread_mutex_unlock(&mu);
    return r;
}

/* ---- mappings ---- */

static void check_map(int prot, int flags, int fd) {
    if (fd < 0 || !(prot & PROT_WRITE) || !(flags & MAP_SHARED) || known_untracked(fd)) return;
    pthread_mutex_lock(&mu);
    int st = fd_state(fd);
    if (tracked(st)) {
        const char *n = names[fid(st)];
        size_t l = strlen(n);
        if (!(l >= 8 && strcmp(n + l - 8, "lock.mdb") == 0)) {
            char m[PATH_MAX + 64];
            snprintf(m, sizeof m, "shared writable mapping of %s", n);
            put_buf(R_UNSUPPORTED, fid(st), 0, 0, m, strlen(m));
        }
    }
    pthread_mutex_unlock(&mu);
}

void *mmap(void *a, size_t len, int prot, int flags, int fd, off_t off) {
    void *r = r_mmap(a, len, prot, flags, fd, off);
    if (r != MAP_FAILED) { int e = errno; check_map(prot, flags, fd); errno = e; }
    return r;
}

void *mmap64(void *a, size_t len, int prot, int flags, int fd, off64_t off) {
    void *r = r_mmap64(a, len, prot, flags, fd, off);
    if (r != MAP_FAILED) { int e = errno; check_map(prot, flags, fd); errno = e; }
    return r;
}
