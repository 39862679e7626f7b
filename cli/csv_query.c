/* Test helper: prints the named columns of a CSV file (tab-separated, one
 * line per row) after checking that every row has as many fields as the
 * header. Exit 1 on a ragged or unparsable file, 2 on an unknown column.
 *
 *     csv_query FILE COLUMN...        (COLUMN "#header": the header line) */
#include <csv.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXF 256

typedef struct q {
    char *fields[MAXF];
    size_t nf;
    char *header[MAXF];
    size_t nh;
    long rows;
    bool ragged;
    int ncols;
    int cols[64];
    char **want;
    bool header_only;
} q;

static void on_field(void *s, size_t len, void *ctx) {
    q *st = ctx;
    if (st->nf == MAXF) {
        st->ragged = true;
        return;
    }
    char *c = malloc(len + 1);
    memcpy(c, s, len);
    c[len] = 0;
    st->fields[st->nf++] = c;
}

static void on_row(int c, void *ctx) {
    (void)c;
    q *st = ctx;
    if (st->rows == 0) {
        memcpy(st->header, st->fields, st->nf * sizeof(char *));
        st->nh = st->nf;
        if (st->header_only)
            for (size_t i = 0; i < st->nh; i++)
                printf("%s%s", i ? "," : "", st->header[i]);
        if (st->header_only) printf("\n");
        for (int k = 0; k < st->ncols; k++) {
            st->cols[k] = -1;
            for (size_t i = 0; i < st->nh; i++)
                if (strcmp(st->header[i], st->want[k]) == 0) st->cols[k] = (int)i;
            if (st->cols[k] < 0 && !st->header_only) {
                fprintf(stderr, "csv_query: no column %s\n", st->want[k]);
                exit(2);
            }
        }
    } else {
        if (st->nf != st->nh) st->ragged = true;
        if (!st->header_only)
            for (int k = 0; k < st->ncols; k++)
                printf("%s%s", k ? "\t" : "",
                       st->cols[k] < (int)st->nf ? st->fields[st->cols[k]] : "");
        if (!st->header_only) printf("\n");
        for (size_t i = 0; i < st->nf; i++) free(st->fields[i]);
    }
    st->nf = 0;
    st->rows++;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: csv_query FILE COLUMN...\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    q st = {0};
    st.want = argv + 2;
    st.ncols = argc - 2 > 64 ? 64 : argc - 2;
    st.header_only = strcmp(argv[2], "#header") == 0;
    struct csv_parser p;
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
    char buf[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        if (csv_parse(&p, buf, n, on_field, on_row, &st) != n) {
            fprintf(stderr, "csv_query: parse error: %s\n",
                    csv_strerror(csv_error(&p)));
            rc = 1;
            break;
        }
    if (!rc && csv_fini(&p, on_field, on_row, &st) != 0) {
        fprintf(stderr, "csv_query: parse error at end\n");
        rc = 1;
    }
    csv_free(&p);
    fclose(f);
    for (size_t i = 0; i < st.nh; i++) free(st.header[i]);
    for (size_t i = 0; i < st.nf; i++) free(st.fields[i]);
    if (st.ragged) {
        fprintf(stderr, "csv_query: a row's field count differs from the header's\n");
        rc = 1;
    }
    return rc;
}
