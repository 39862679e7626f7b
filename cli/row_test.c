/* Rows: CSV quoting round trip, and the results file (header once, whole
 * rows, foreign headers refused). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/row.h"

static void tmp_path(char *buf, size_t n, const char *name) {
    const char *dir = getenv("TEST_TMPDIR");
    snprintf(buf, n, "%s/%s", dir && *dir ? dir : "/tmp", name);
}

static void fill(lmb_row *r) {
    for (int i = 0; i < LMB_NCOLS; i++) lmb_row_set(r, i, "v%d", i);
    lmb_row_set(r, LMB_COL_cpu_model, "Weird, \"quoted\" CPU");
    lmb_row_set(r, LMB_COL_pin_plan, "0,2,4");
    lmb_row_set(r, LMB_COL_verify_detail, "%s", "");
}

static void round_trip(void **state) {
    (void)state;
    lmb_row r = {0}, back = {0};
    fill(&r);
    size_t hl, rl;
    char *h = lmb_csv_header(&hl), *line = lmb_csv_row(&r, &rl);
    assert_non_null(h);
    assert_non_null(line);
    assert_int_equal(strncmp(h, "variant,allocator,", 18), 0);
    assert_non_null(strstr(line, "\"Weird, \"\"quoted\"\" CPU\""));
    assert_non_null(strstr(line, ",\"0,2,4\""));
    char *both = malloc(hl + rl);
    memcpy(both, h, hl);
    memcpy(both + hl, line, rl);
    assert_int_equal(lmb_csv_parse_output(both, hl + rl, &back), 0);
    for (int i = 0; i < LMB_NCOLS; i++)
        assert_string_equal(lmb_row_get(&back, i), lmb_row_get(&r, i));
    /* A truncated row or a foreign header is refused. */
    assert_int_equal(lmb_csv_parse_output(both, hl + rl / 2, &back), -1);
    both[0] = 'X';
    assert_int_equal(lmb_csv_parse_output(both, hl + rl, &back), -1);
    free(both);
    free(h);
    free(line);
    lmb_row_free(&r);
    lmb_row_free(&back);
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

static void append_writes_header_once(void **state) {
    (void)state;
    char path[512], err[256];
    tmp_path(path, sizeof path, "rows.csv");
    unlink(path);
    assert_int_equal(lmb_csv_check(path, err, sizeof err), 0);
    assert_int_equal(access(path, F_OK), -1); /* check creates nothing */
    lmb_row r = {0};
    fill(&r);
    for (int i = 0; i < 3; i++)
        assert_int_equal(lmb_csv_append(path, &r, err, sizeof err), 0);
    size_t len, hl, rl;
    char *text = slurp(path, &len);
    char *h = lmb_csv_header(&hl), *line = lmb_csv_row(&r, &rl);
    assert_int_equal(len, hl + 3 * rl);
    assert_memory_equal(text, h, hl);
    assert_memory_equal(text + hl + 2 * rl, line, rl);
    assert_int_equal(lmb_csv_check(path, err, sizeof err), 0);
    free(text);
    free(h);
    free(line);
    lmb_row_free(&r);
}

static void refuses_bad_targets(void **state) {
    (void)state;
    char path[512], err[256];
    tmp_path(path, sizeof path, "foreign.csv");
    FILE *f = fopen(path, "w");
    fputs("a,b,c\n1,2,3\n", f);
    fclose(f);
    assert_int_equal(lmb_csv_check(path, err, sizeof err), -1);
    lmb_row r = {0};
    fill(&r);
    assert_int_equal(lmb_csv_append(path, &r, err, sizeof err), -1);
    size_t len;
    char *text = slurp(path, &len);
    assert_string_equal(text, "a,b,c\n1,2,3\n"); /* untouched */
    free(text);
    assert_int_equal(lmb_csv_check("/nonexistent-dir/x.csv", err, sizeof err), -1);
    assert_non_null(strstr(err, "does not exist"));
    const char *dir = getenv("TEST_TMPDIR");
    assert_int_equal(lmb_csv_check(dir && *dir ? dir : "/tmp", err, sizeof err), -1);
    assert_non_null(strstr(err, "directory"));
    lmb_row_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(append_writes_header_once),
        cmocka_unit_test(refuses_bad_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
