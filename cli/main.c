/* lmbench: the dispatcher. Parses and validates the options, then for each
 * repetition, workload and thread count runs every selected variant's runner
 * (lmbench_<variant>, or lmbench_<variant>_glibc) in turn, as a separate
 * process, collects the one row each prints, and shows it as a table or CSV
 * on stdout and appends it to --csv. See cli/README.md for why.
 *
 * SIGINT (and SIGTERM) stop it cleanly: the signal is forwarded to the
 * running runner, whose unfinished run is discarded; every row completed
 * before stays in --csv (rows are appended whole, see row.c), nothing more is
 * run, and lmbench exits 128 + the signal number (130 for SIGINT). The
 * signals are kept blocked except while waiting for a runner's output and
 * between runs, so an interrupt never cuts a row being written. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/busy.h"
#include "cli/meta.h"
#include "cli/options.h"
#include "cli/row.h"
#include "cli/table.h"

#ifndef LMB_VARIANTS
#error "LMB_VARIANTS (comma-separated variant names) is unset"
#endif

static const char *known[LMB_MAX_LIST];
static size_t nknown;

/* ---- interrupts -----------------------------------------------------------
 */

/* The signal that asked us to stop (SIGINT or SIGTERM), 0 while none has. */
static volatile sig_atomic_t stop_signal;
/* Signals we catch (not those ignored when we started: a shell runs a
 * background job of a script with SIGINT ignored, and that stays so). */
static sigset_t caught;
/* The signal mask outside the run loop: runners start with it, and the
 * signals are let in while waiting for a runner. */
static sigset_t open_mask;

static void on_stop_signal(int sig) { stop_signal = sig; }

static void catch_stop_signals(void) {
    sigemptyset(&caught);
    const int sigs[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) != 0 || old.sa_handler == SIG_IGN)
            continue;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0; /* no SA_RESTART: ppoll returns EINTR */
        if (sigaction(sigs[i], &sa, NULL) == 0) sigaddset(&caught, sigs[i]);
    }
    sigprocmask(SIG_BLOCK, &caught, &open_mask);
}

/* Lets a signal that came while blocked be handled now. */
static bool stop_requested(void) {
    sigprocmask(SIG_SETMASK, &open_mask, NULL);
    sigprocmask(SIG_BLOCK, &caught, NULL);
    return stop_signal != 0;
}

static int find_runner(const char *argv0, const char *variant,
                       const char *allocator, char *out, size_t n) {
    char name[256];
    snprintf(name, sizeof name, "lmbench_%s%s", variant,
             strcmp(allocator, "glibc") == 0 ? "_glibc" : "");
    char dirs[3][PATH_MAX];
    int nd = 0;
    const char *env = getenv("LMBENCH_BIN_DIR");
    if (env && *env) snprintf(dirs[nd++], PATH_MAX, "%s", env);
    if (strchr(argv0, '/')) {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s", argv0);
        snprintf(dirs[nd++], PATH_MAX, "%s", dirname(tmp));
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        snprintf(dirs[nd++], PATH_MAX, "%s", dirname(exe));
    }
    for (int i = 0; i < nd; i++) {
        snprintf(out, n, "%s/%s", dirs[i], name);
        if (access(out, X_OK) == 0) return 0;
    }
    snprintf(out, n, "%s", name);
    return -1;
}

/* The runner's command line: the user's arguments, then the run's own. */
typedef struct runner_args {
    char a_var[128], a_thr[64], a_wl[64], a_rep[64], a_git[256];
    char **argv; /* malloc'd */
} runner_args;

static int runner_args_build(runner_args *ra, const char *path, int argc,
                             char **argv, const char *variant, unsigned threads,
                             const char *workload, unsigned rep,
                             const char *commit) {
    snprintf(ra->a_var, sizeof ra->a_var, "--variant=%s", variant);
    snprintf(ra->a_thr, sizeof ra->a_thr, "--threads=%u", threads);
    snprintf(ra->a_wl, sizeof ra->a_wl, "--workload=%s", workload);
    snprintf(ra->a_rep, sizeof ra->a_rep, "--rep=%u", rep);
    snprintf(ra->a_git, sizeof ra->a_git, "--git-commit=%s", commit);
    char **cargv = calloc((size_t)argc + 8, sizeof *cargv);
    if (!cargv) return -1;
    int k = 0;
    cargv[k++] = (char *)path;
    for (int i = 1; i < argc; i++) cargv[k++] = argv[i];
    cargv[k++] = "--worker";
    cargv[k++] = ra->a_var;
    cargv[k++] = ra->a_thr;
    cargv[k++] = ra->a_wl;
    cargv[k++] = ra->a_rep;
    cargv[k++] = ra->a_git;
    cargv[k] = NULL;
    ra->argv = cargv;
    return 0;
}

/* Starts the runner with its stdout on a pipe: its pid, and the pipe's read
 * end in *out. -1 when it cannot be started. */
static pid_t spawn_runner(const char *path, char **cargv, int *out) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        /* The runner gets the default action for the signals we catch (a
         * signal pending from before exec kills it, as it should). */
        for (int sig = 1; sig < NSIG; sig++)
            if (sigismember(&caught, sig) == 1) signal(sig, SIG_DFL);
        sigprocmask(SIG_SETMASK, &open_mask, NULL);
        dup2(fds[1], 1);
        execv(path, cargv);
        fprintf(stderr, "lmbench: cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    *out = fds[0];
    return pid;
}

/* Reads the runner's output until EOF, with the signals let in; a stop
 * signal is passed on to the runner (*forwarded). The output in *buf (NULL
 * when out of memory), its length in *used. */
static void read_runner_output(int fd, pid_t pid, char **buf, size_t *used,
                               bool *forwarded) {
    size_t cap = 4096;
    *used = 0;
    *buf = malloc(cap);
    *forwarded = false;
    while (*buf) {
        if (stop_signal && !*forwarded) {
            /* Not reaped yet (waitpid comes after EOF), so pid is ours. */
            kill(pid, stop_signal);
            *forwarded = true;
        }
        /* Wait for output with the signals let in; a signal makes ppoll
         * return EINTR after its handler ran, and we forward it above. */
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (ppoll(&pfd, 1, NULL, &open_mask) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (*used == cap) {
            char *nb = realloc(*buf, cap * 2);
            if (!nb) {
                free(*buf);
                *buf = NULL;
                break;
            }
            *buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, *buf + *used, cap - *used);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        *used += (size_t)r;
    }
}

static void report_runner_failure(int status, const char *variant,
                                  unsigned threads, const char *workload) {
    if (WIFSIGNALED(status))
        fprintf(stderr, "lmbench: %s (%s, %u threads) died of signal %d\n",
                variant, workload, threads, WTERMSIG(status));
    else
        fprintf(stderr,
                "lmbench: %s (%s, %u threads) failed (exit status %d)\n",
                variant, workload, threads,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* Runs one runner; its stdout (header + row) into *row. Returns the exit
 * status (0 ok, 1 verification FAIL), -1 when it produced no row, or -2 when
 * it was stopped by a forwarded signal (the run is discarded silently). */
static int run_one(const char *path, int argc, char **argv, const char *variant,
                   unsigned threads, const char *workload, unsigned rep,
                   const char *commit, lmb_row *row) {
    runner_args ra;
    if (runner_args_build(&ra, path, argc, argv, variant, threads, workload,
                          rep, commit) != 0)
        return -1;
    int fd;
    pid_t pid = spawn_runner(path, ra.argv, &fd);
    free(ra.argv);
    if (pid < 0) return -1;
    char *buf;
    size_t used;
    bool forwarded;
    read_runner_output(fd, pid, &buf, &used, &forwarded);
    close(fd);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    int rc = -1;
    if (forwarded && WIFSIGNALED(status)) {
        lmb_row_free(row);
        free(buf);
        return -2;
    }
    if (buf && lmb_csv_parse_output(buf, used, row) == 0 && WIFEXITED(status) &&
        (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 1))
        rc = WEXITSTATUS(status);
    if (rc < 0) {
        lmb_row_free(row);
        report_runner_failure(status, variant, threads, workload);
    }
    free(buf);
    return rc;
}

static void progress(bool on, size_t done, size_t total, unsigned rep,
                     unsigned reps, const char *variant, unsigned threads,
                     const char *workload, double eta) {
    if (!on) return;
    fprintf(stderr,
            "\r\033[Klmbench: run %zu/%zu  rep %u/%u  %s  %s  threads=%u  "
            "ETA %.0fs",
            done + 1, total, rep, reps, variant, workload, threads, eta);
    fflush(stderr);
}

static void progress_clear(bool on) {
    if (!on) return;
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
}

/* --help, --version, --list-variants, and --worker refused: the exit
 * status, or -1 when none of them was given. */
static int info_options(const lmb_opts *o) {
    if (o->help) {
        lmb_opts_help(stdout, known, nknown);
        return 0;
    }
    if (o->version) {
        printf("lmbench %s\n", LMB_VERSION);
        return 0;
    }
    if (o->list_variants) {
        for (size_t i = 0; i < nknown; i++)
            printf("%s%s\n", known[i],
                   lmb_variant_is_peer(known[i]) ? " (peer)" : "");
        return 0;
    }
    if (o->worker) {
        fprintf(stderr, "lmbench: --worker: only for lmbench_<variant>\n");
        return 2;
    }
    return -1;
}

/* Before anything runs: the CSV target and every runner's path. The exit
 * status, or 0 to go on. */
static int check_targets(const lmb_opts *o, const char *argv0,
                         char (*paths)[PATH_MAX]) {
    char err[512];
    if (o->csv && lmb_csv_check(o->csv, err, sizeof err) != 0) {
        fprintf(stderr, "lmbench: --csv=%s: %s\n", o->csv, err);
        return 2;
    }
    for (size_t i = 0; i < o->nvariants; i++)
        if (find_runner(argv0, o->variants[i], o->allocator, paths[i],
                        PATH_MAX) != 0) {
            fprintf(stderr,
                    "lmbench: --variant=%s: runner %s not found next to "
                    "lmbench (set LMBENCH_BIN_DIR?)\n",
                    o->variants[i], paths[i]);
            return 1;
        }
    return 0;
}

/* Every run, and what has been done so far. */
typedef struct session {
    const lmb_opts *o;
    int argc;
    char **argv;
    char (*paths)[PATH_MAX];
    char commit[200];
    bool table, prog;
    size_t total, done;
    double spent; /* seconds in the runs so far, for the ETA */
    lmb_row *rows;
    bool *have;
    lmb_table tab;
    bool csv_header_done;
    int exit_code;
} session;

/* A row that came back: its verdict, --csv, and stdout. */
static void take_row(session *S, int rc, lmb_row *row) {
    const lmb_opts *o = S->o;
    char err[512];
    S->have[S->done] = true;
    if (rc == 1 || strcmp(lmb_row_get(row, LMB_COL_verify), "ok") != 0)
        S->exit_code = 1;
    if (o->csv && lmb_csv_append(o->csv, row, err, sizeof err) != 0) {
        fprintf(stderr, "lmbench: --csv=%s: %s\n", o->csv, err);
        S->exit_code = 1;
    }
    if (S->table) {
        lmb_table_row(&S->tab, row);
    } else {
        size_t len;
        char *line;
        if (!S->csv_header_done) {
            line = lmb_csv_header(&len);
            if (line) fwrite(line, 1, len, stdout);
            free(line);
            S->csv_header_done = true;
        }
        line = lmb_csv_row(row, &len);
        if (line) fwrite(line, 1, len, stdout);
        free(line);
    }
    fflush(stdout);
}

/* One run, its progress line and its row. false when a stop signal
 * discarded it. */
static bool run_and_take(session *S, unsigned rep, size_t w, size_t t,
                         size_t v) {
    const lmb_opts *o = S->o;
    double per =
        S->done ? S->spent / (double)S->done : o->duration + o->warmup + 0.2;
    progress(S->prog, S->done, S->total, rep, o->repeat, o->variants[v],
             o->threads[t], o->workloads[w]->name,
             per * (double)(S->total - S->done));
    uint64_t t0 = lmb_now_ns();
    lmb_row *row = &S->rows[S->done];
    int rc = run_one(S->paths[v], S->argc, S->argv, o->variants[v],
                     o->threads[t], o->workloads[w]->name, rep, S->commit, row);
    S->spent += (double)(lmb_now_ns() - t0) * 1e-9;
    progress_clear(S->prog);
    if (rc == -2) return false; /* discarded, not counted */
    if (rc < 0)
        S->exit_code = 1;
    else
        take_row(S, rc, row);
    return true;
}

/* for rep { for workload { for threads { for variant } } }: variants
 * innermost, so repetitions interleave. Stops early on a stop signal. */
static void run_all(session *S) {
    const lmb_opts *o = S->o;
    for (unsigned rep = 1; rep <= o->repeat; rep++)
        for (size_t w = 0; w < o->nworkloads; w++)
            for (size_t t = 0; t < o->nthreads; t++)
                for (size_t v = 0; v < o->nvariants; v++, S->done++)
                    if (stop_requested() || !run_and_take(S, rep, w, t, v))
                        return;
}

/* The table's summary, the stop message, and the exit status. */
static int finish(session *S) {
    if (S->table)
        lmb_table_summary(&S->tab, S->rows, S->have, S->total, S->done);
    fflush(stdout);
    if (stop_requested()) {
        fprintf(stderr,
                "lmbench: stopped by signal %d after %zu of %zu runs; the "
                "completed rows are kept\n",
                (int)stop_signal, S->done, S->total);
        S->exit_code = 128 + stop_signal;
    }
    for (size_t i = 0; i < S->total; i++) lmb_row_free(&S->rows[i]);
    free(S->rows);
    free(S->have);
    return S->exit_code;
}

int main(int argc, char **argv) {
    nknown = lmb_split_variants(LMB_VARIANTS, known, LMB_MAX_LIST);
    lmb_opts o;
    char err[512];
    if (lmb_opts_parse(&o, argc, argv, known, nknown, err, sizeof err) != 0) {
        fprintf(stderr, "lmbench: %s\n", err);
        return 2;
    }
    int rc = info_options(&o);
    if (rc >= 0) return rc;
    static char paths[LMB_MAX_LIST][PATH_MAX];
    rc = check_targets(&o, argv[0], paths);
    if (rc != 0) return rc;
    session S = {.o = &o, .argc = argc, .argv = argv, .paths = paths};
    lmb_git_commit(S.commit, sizeof S.commit);
    S.table = o.format == LMB_FMT_TABLE ||
              (o.format == LMB_FMT_AUTO && isatty(STDOUT_FILENO));
    S.prog = isatty(STDERR_FILENO);
    S.total = (size_t)o.repeat * o.nworkloads * o.nthreads * o.nvariants;
    S.rows = calloc(S.total, sizeof *S.rows);
    S.have = calloc(S.total, sizeof *S.have);
    if (!S.rows || !S.have) {
        fprintf(stderr, "lmbench: out of memory\n");
        return 1;
    }
    lmb_table_init(&S.tab, &o, stdout);
    catch_stop_signals();
    run_all(&S);
    return finish(&S);
}
