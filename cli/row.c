#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cli/row.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

/* Pseudo-filesystems whose files open for writing but refuse rows. */
#define LMB_PROC_MAGIC 0x9fa0
#define LMB_SYSFS_MAGIC 0x62656572

const char *const lmb_column_names[LMB_NCOLS] = {
#define LMB_COL_NAME(n) #n,
    LMB_COLUMNS(LMB_COL_NAME)
#undef LMB_COL_NAME
};

void lmb_row_set(lmb_row *r, int col, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    va_end(ap);
    free(r->f[col]);
    r->f[col] = s;
}

const char *lmb_row_get(const lmb_row *r, int col) {
    return r->f[col] ? r->f[col] : "";
}

void lmb_row_free(lmb_row *r) {
    for (int i = 0; i < LMB_NCOLS; i++) {
        free(r->f[i]);
        r->f[i] = NULL;
    }
}

static bool needs_quotes(const char *s) {
    if (!*s) return false;
    if (s[0] == ' ' || s[strlen(s) - 1] == ' ') return true;
    return strpbrk(s, ",\"\r\n") != NULL;
}

static char *csv_line(const char *const *fields, size_t n, size_t *len) {
    size_t cap = 2;
    for (size_t i = 0; i < n; i++) cap += 2 * strlen(fields[i]) + 3;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (i) buf[used++] = ',';
        const char *s = fields[i];
        if (needs_quotes(s))
            used += csv_write(buf + used, cap - used, s, strlen(s));
        else {
            memcpy(buf + used, s, strlen(s));
            used += strlen(s);
        }
    }
    buf[used++] = '\n';
    buf[used] = 0;
    *len = used;
    return buf;
}

char *lmb_csv_header(size_t *len) {
    return csv_line(lmb_column_names, LMB_NCOLS, len);
}

char *lmb_csv_row(const lmb_row *r, size_t *len) {
    const char *f[LMB_NCOLS];
    for (int i = 0; i < LMB_NCOLS; i++) f[i] = lmb_row_get(r, i);
    return csv_line(f, LMB_NCOLS, len);
}

/* ---- parsing ------------------------------------------------------------ */

typedef struct parse_state {
    int line;   /* 0 header, 1 row */
    int field;  /* index within the line */
    bool bad;
    lmb_row *row;
} parse_state;

static void on_field(void *data, size_t len, void *ctx) {
    parse_state *ps = ctx;
    if (ps->field >= LMB_NCOLS || ps->line > 1) {
        ps->bad = true;
        return;
    }
    if (ps->line == 0) {
        const char *want = lmb_column_names[ps->field];
        if (len != strlen(want) || memcmp(data, want, len) != 0)
            ps->bad = true;
    } else {
        char *s = malloc(len + 1);
        if (!s) {
            ps->bad = true;
            return;
        }
        memcpy(s, data, len);
        s[len] = 0;
        free(ps->row->f[ps->field]);
        ps->row->f[ps->field] = s;
    }
    ps->field++;
}

static void on_row(int c, void *ctx) {
    (void)c;
    parse_state *ps = ctx;
    if (ps->field != LMB_NCOLS) ps->bad = true;
    ps->line++;
    ps->field = 0;
}

int lmb_csv_parse_output(const char *text, size_t len, lmb_row *out) {
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) return -1;
    parse_state ps = {.row = out};
    if (csv_parse(&p, text, len, on_field, on_row, &ps) != len) ps.bad = true;
    if (csv_fini(&p, on_field, on_row, &ps) != 0) ps.bad = true;
    csv_free(&p);
    if (ps.bad || ps.line != 2) {
        lmb_row_free(out);
        return -1;
    }
    return 0;
}

/* ---- the results file --------------------------------------------------- */

/* 1 when fd's file is empty, 0 when its first line is our header, -1 when
 * it is something else. */
static int header_state(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    if (st.st_size == 0) return 1;
    size_t hlen;
    char *h = lmb_csv_header(&hlen);
    if (!h) return -1;
    char *got = malloc(hlen);
    int rc = -1;
    if (got && pread(fd, got, hlen, 0) == (ssize_t)hlen &&
        memcmp(got, h, hlen) == 0)
        rc = 0;
    free(got);
    free(h);
    return rc;
}

int lmb_csv_check(const char *path, char *err, size_t errlen) {
    struct stat st;
    bool exists = stat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "is a directory");
        return -1;
    }
    if (exists && !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "is not a regular file");
        return -1;
    }
    if (!exists) {
        /* It must be creatable: the directory has to be writable. */
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (!slash)
            snprintf(dir, sizeof dir, ".");
        else if (slash == dir)
            dir[1] = 0;
        else
            *slash = 0;
        struct stat ds;
        if (stat(dir, &ds) != 0 || !S_ISDIR(ds.st_mode)) {
            snprintf(err, errlen, "cannot create: directory %s does not exist",
                     dir);
            return -1;
        }
        /* Creating a file there is the only test that holds for root
         * (access() says yes to /proc and /sys) and read-only mounts. A
         * probe of another name, removed at once: FILE itself is not created
         * (another lmbench may be about to append to it). */
        char probe[4200];
        snprintf(probe, sizeof probe, "%s/.lmbench-probe-XXXXXX", dir);
        int pfd = mkstemp(probe);
        if (pfd < 0) {
            snprintf(err, errlen, "cannot create a file in %s: %s", dir,
                     strerror(errno));
            return -1;
        }
        close(pfd);
        unlink(probe);
        return 0;
    }
    struct statfs fs;
    if (statfs(path, &fs) == 0 &&
        (fs.f_type == LMB_PROC_MAGIC || fs.f_type == LMB_SYSFS_MAGIC)) {
        snprintf(err, errlen, "is on /proc or /sys, not a file for results");
        return -1;
    }
    int fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open for appending: %s",
                 strerror(errno));
        return -1;
    }
    int hs = header_state(fd);
    close(fd);
    if (hs < 0) {
        snprintf(err, errlen,
                 "existing file does not start with this lmbench version's "
                 "header; use another file");
        return -1;
    }
    return 0;
}

static int write_all(int fd, const char *buf, size_t len) {
    /* One write(2) for the whole line: with O_APPEND a regular file gets it
     * in one piece. A short write (disk full) is undone by truncating. */
    struct stat st;
    off_t before = fstat(fd, &st) == 0 ? st.st_size : -1;
    ssize_t w = write(fd, buf, len);
    if (w == (ssize_t)len) return 0;
    int e = w < 0 ? errno : ENOSPC;
    if (w > 0 && before >= 0 && ftruncate(fd, before) != 0) {
        /* nothing more to do */
    }
    errno = e;
    return -1;
}

int lmb_csv_append(const char *path, const lmb_row *r, char *err,
                   size_t errlen) {
    size_t rlen, hlen;
    char *row = lmb_csv_row(r, &rlen);
    char *hdr = lmb_csv_header(&hlen);
    char *both = NULL;
    int rc = -1;
    int fd = -1;
    if (!row || !hdr) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open for appending: %s",
                 strerror(errno));
        goto out;
    }
    if (flock(fd, LOCK_EX) != 0) {
        snprintf(err, errlen, "cannot lock: %s", strerror(errno));
        goto out;
    }
    int hs = header_state(fd);
    if (hs < 0) {
        snprintf(err, errlen, "header is not this lmbench version's");
        goto out;
    }
    const char *buf = row;
    size_t len = rlen;
    if (hs == 1) {
        both = malloc(hlen + rlen);
        if (!both) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        memcpy(both, hdr, hlen);
        memcpy(both + hlen, row, rlen);
        buf = both;
        len = hlen + rlen;
    }
    if (write_all(fd, buf, len) != 0) {
        snprintf(err, errlen, "write failed: %s", strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) close(fd); /* releases the flock */
    free(row);
    free(hdr);
    free(both);
    return rc;
}
