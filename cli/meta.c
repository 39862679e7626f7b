#include "cli/meta.h"

#include <hwloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static void cpu_model(char *buf, size_t n) {
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        char *s = colon + 1;
        while (*s == ' ' || *s == '\t') s++;
        s[strcspn(s, "\n")] = 0;
        snprintf(buf, n, "%s", s);
        break;
    }
    fclose(f);
}

void lmb_meta_fill(lmb_row *r) {
    char model[256];
    cpu_model(model, sizeof model);
    lmb_row_set(r, LMB_COL_cpu_model, "%s", model);

    int cores = 0, numa = 0;
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) == 0) {
        if (hwloc_topology_load(t) == 0) {
            cores = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
            numa = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
        }
        hwloc_topology_destroy(t);
    }
    if (cores <= 0) cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (numa <= 0) numa = 1;
    lmb_row_set(r, LMB_COL_cores, "%d", cores);
    lmb_row_set(r, LMB_COL_numa_nodes, "%d", numa);

    struct utsname u;
    if (uname(&u) == 0)
        lmb_row_set(r, LMB_COL_kernel, "%s %s %s", u.sysname, u.release,
                    u.machine);
    else
        lmb_row_set(r, LMB_COL_kernel, "unknown");
#if defined(__clang__)
    lmb_row_set(r, LMB_COL_compiler, "clang %s", __clang_version__);
#elif defined(__GNUC__)
    lmb_row_set(r, LMB_COL_compiler, "gcc %s", __VERSION__);
#else
    lmb_row_set(r, LMB_COL_compiler, "unknown");
#endif

    time_t now = time(NULL);
    struct tm tm;
    char ts[64] = "unknown";
    if (gmtime_r(&now, &tm)) strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    lmb_row_set(r, LMB_COL_timestamp, "%s", ts);
}

/* First line of a shell command's output, or "" on failure. */
static void run_line(const char *cmd, char *buf, size_t n) {
    buf[0] = 0;
    FILE *p = popen(cmd, "r");
    if (!p) return;
    if (!fgets(buf, (int)n, p)) buf[0] = 0;
    buf[strcspn(buf, "\n")] = 0;
    if (pclose(p) != 0) buf[0] = 0;
}

static void shell_quote(const char *s, char *out, size_t n) {
    size_t used = 0;
    if (n < 3) {
        out[0] = 0;
        return;
    }
    out[used++] = '\'';
    for (; *s && used + 5 < n; s++) {
        if (*s == '\'') {
            memcpy(out + used, "'\\''", 4);
            used += 4;
        } else {
            out[used++] = *s;
        }
    }
    out[used++] = '\'';
    out[used] = 0;
}

void lmb_git_commit(char *buf, size_t n) {
    const char *env = getenv("LMBENCH_GIT_COMMIT");
    if (env && *env) {
        snprintf(buf, n, "%s", env);
        return;
    }
    const char *ws = getenv("BUILD_WORKSPACE_DIRECTORY");
    char dir[4200] = "";
    if (ws && *ws) {
        char q[4096];
        shell_quote(ws, q, sizeof q);
        snprintf(dir, sizeof dir, "-C %s ", q);
    }
    char cmd[8192], head[128], dirty[16];
    snprintf(cmd, sizeof cmd, "git %srev-parse HEAD 2>/dev/null", dir);
    run_line(cmd, head, sizeof head);
    if (!head[0]) {
        snprintf(buf, n, "unknown");
        return;
    }
    snprintf(cmd, sizeof cmd,
             "git %sdiff --quiet HEAD -- 2>/dev/null || echo dirty", dir);
    run_line(cmd, dirty, sizeof dirty);
    snprintf(buf, n, "%s%s", head, dirty[0] ? "-dirty" : "");
}
