/* Key distributions: parsing, the scramble, and the zipf generator's
 * frequencies against theta (chi-square and rank-frequency slope). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bench/dist.h"

static void parse_specs(void **state) {
    (void)state;
    lmb_dist_spec d;
    char err[200];
    assert_int_equal(lmb_dist_parse("uniform", &d, err, sizeof err), 0);
    assert_int_equal(d.kind, LMB_DIST_UNIFORM);
    assert_int_equal(lmb_dist_parse("zipf", &d, err, sizeof err), 0);
    assert_int_equal(d.kind, LMB_DIST_ZIPF);
    assert_true(fabs(d.theta - 0.99) < 1e-12);
    assert_int_equal(lmb_dist_parse("zipf:1.2", &d, err, sizeof err), 0);
    assert_true(fabs(d.theta - 1.2) < 1e-12);
    assert_int_equal(lmb_dist_parse("hotset:0.9:0.1", &d, err, sizeof err), 0);
    assert_int_equal(d.kind, LMB_DIST_HOTSET);
    assert_true(fabs(d.hot_p - 0.9) < 1e-12 && fabs(d.hot_f - 0.1) < 1e-12);
    const char *bad[] = {"zipf:0",      "zipf:-1",       "zipf:3.5",
                         "zipf:x",      "zipf:",         "zipf:nan",
                         "hotset:0.9",  "hotset:1.5:0.1", "hotset:0.5:0",
                         "hotset:0.5:1", "normal",        "uniform:3",
                         ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(lmb_dist_parse(bad[i], &d, err, sizeof err), -1);
        assert_true(strlen(err) > 0);
    }
    char buf[64];
    lmb_dist_parse("zipf", &d, err, sizeof err);
    lmb_dist_format(&d, buf, sizeof buf);
    assert_string_equal(buf, "zipf:0.99");
}

static void scramble_is_a_permutation(void **state) {
    (void)state;
    const uint64_t sizes[] = {1, 2, 3, 7, 1000, 4097};
    lmb_dist_spec spec = {.kind = LMB_DIST_UNIFORM};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint64_t n = sizes[s];
        lmb_dist d;
        assert_int_equal(lmb_dist_init(&d, &spec, n, 42), 0);
        unsigned char *seen = calloc(n, 1);
        for (uint64_t r = 0; r < n; r++) {
            uint64_t k = lmb_dist_key_of_rank(&d, r);
            assert_true(k < n);
            assert_false(seen[k]);
            seen[k] = 1;
        }
        free(seen);
        lmb_dist_destroy(&d);
    }
}

static void hot_keys_are_not_neighbours(void **state) {
    (void)state;
    lmb_dist_spec spec = {.kind = LMB_DIST_ZIPF, .theta = 0.99};
    lmb_dist d;
    assert_int_equal(lmb_dist_init(&d, &spec, 100000, 1), 0);
    int adjacent = 0;
    for (uint64_t r = 0; r + 1 < 20; r++) {
        uint64_t a = lmb_dist_key_of_rank(&d, r), b = lmb_dist_key_of_rank(&d, r + 1);
        if (a + 1 == b || b + 1 == a) adjacent++;
    }
    assert_true(adjacent <= 1);
    lmb_dist_destroy(&d);
}

/* Draw counts per popularity rank. */
static uint64_t *rank_counts(const lmb_dist_spec *spec, uint64_t n,
                             uint64_t draws, uint64_t seed) {
    lmb_dist d;
    assert_int_equal(lmb_dist_init(&d, spec, n, seed), 0);
    uint64_t *rank_of = malloc(n * sizeof *rank_of);
    uint64_t *counts = calloc(n, sizeof *counts);
    for (uint64_t r = 0; r < n; r++) rank_of[lmb_dist_key_of_rank(&d, r)] = r;
    lmb_rng rng = lmb_rng_seeded(seed, 99);
    for (uint64_t i = 0; i < draws; i++) {
        uint64_t k = lmb_dist_next(&d, &rng);
        assert_true(k < n);
        counts[rank_of[k]]++;
    }
    free(rank_of);
    lmb_dist_destroy(&d);
    return counts;
}

/* Pearson chi-square of counts against spec's rank probabilities: ranks
 * 0..99 each a bin, then the tail in bins of 100 ranks. */
static double chi_square(const uint64_t *counts, uint64_t n, uint64_t draws,
                         const lmb_dist_spec *expect, int *df) {
    double chi = 0;
    int bins = 0;
    for (uint64_t lo = 0; lo < n;) {
        uint64_t hi = lo < 100 ? lo + 1 : lo + 100;
        if (hi > n) hi = n;
        double p = 0, c = 0;
        for (uint64_t r = lo; r < hi; r++) {
            p += lmb_dist_rank_probability(expect, n, r);
            c += (double)counts[r];
        }
        double e = p * (double)draws;
        chi += (c - e) * (c - e) / e;
        bins++;
        lo = hi;
    }
    *df = bins - 1;
    return chi;
}

static void zipf_matches_theta(void **state) {
    (void)state;
    const uint64_t n = 1000, draws = 2000000;
    const double thetas[] = {0.5, 0.99, 1.5};
    for (int t = 0; t < 3; t++) {
        lmb_dist_spec spec = {.kind = LMB_DIST_ZIPF, .theta = thetas[t]};
        uint64_t *counts = rank_counts(&spec, n, draws, 12345 + (uint64_t)t);
        int df;
        double chi = chi_square(counts, n, draws, &spec, &df);
        /* df = 108; the 0.1% critical value is about 160. */
        assert_int_equal(df, 108);
        assert_true(chi < 160);

        /* The test can fail: the same draws against a neighbouring theta. */
        lmb_dist_spec other = spec;
        other.theta = thetas[t] + 0.1;
        assert_true(chi_square(counts, n, draws, &other, &df) > 1000);

        /* Rank-frequency: log(count) against log(rank+1) over the top 50
         * ranks has slope -theta. */
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        const int m = 50;
        for (int r = 0; r < m; r++) {
            double x = log((double)(r + 1)), y = log((double)counts[r]);
            sx += x;
            sy += y;
            sxx += x * x;
            sxy += x * y;
        }
        double slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
        assert_true(fabs(-slope - thetas[t]) < 0.05);
        free(counts);
    }
}

static void hotset_and_uniform(void **state) {
    (void)state;
    const uint64_t n = 1000, draws = 1000000;
    lmb_dist_spec hs = {.kind = LMB_DIST_HOTSET, .hot_p = 0.9, .hot_f = 0.1};
    uint64_t *c = rank_counts(&hs, n, draws, 5);
    uint64_t hot = 0;
    for (uint64_t r = 0; r < 100; r++) hot += c[r];
    assert_true(fabs((double)hot / draws - 0.9) < 0.005);
    int df;
    assert_true(chi_square(c, n, draws, &hs, &df) < 160);
    free(c);

    lmb_dist_spec un = {.kind = LMB_DIST_UNIFORM};
    c = rank_counts(&un, n, draws, 6);
    assert_true(chi_square(c, n, draws, &un, &df) < 160);
    free(c);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* scan:F:BASE: a fraction F of the draws are ids from n up, none repeated;
 * the others follow BASE, scaled by 1 - F. */
static void scan_streams(void **state) {
    (void)state;
    const uint64_t n = 1000, draws = 1000000;
    lmb_dist_spec spec;
    char err[200];
    assert_int_equal(lmb_dist_parse("scan:0.2:zipf:0.99", &spec, err, sizeof err),
                     0);
    assert_int_equal(spec.kind, LMB_DIST_ZIPF);
    assert_true(fabs(spec.scan_f - 0.2) < 1e-12);
    lmb_dist d;
    assert_int_equal(lmb_dist_init(&d, &spec, n, 8), 0);
    uint64_t *rank_of = malloc(n * sizeof *rank_of);
    uint64_t *counts = calloc(n, sizeof *counts);
    uint64_t *scanned = malloc(draws * sizeof *scanned);
    assert_non_null(rank_of);
    assert_non_null(counts);
    assert_non_null(scanned);
    for (uint64_t r = 0; r < n; r++) rank_of[lmb_dist_key_of_rank(&d, r)] = r;
    lmb_rng rng = lmb_rng_seeded(8, 99);
    uint64_t nscan = 0;
    for (uint64_t i = 0; i < draws; i++) {
        uint64_t k = lmb_dist_next(&d, &rng);
        if (k >= n)
            scanned[nscan++] = k;
        else
            counts[rank_of[k]]++;
    }
    /* Binomial: the standard deviation of the fraction is 0.0004. */
    assert_true(fabs((double)nscan / draws - 0.2) < 0.003);
    qsort(scanned, nscan, sizeof *scanned, cmp_u64);
    for (uint64_t i = 1; i < nscan; i++)
        assert_true(scanned[i] != scanned[i - 1]);
    int df;
    assert_true(chi_square(counts, n, draws, &spec, &df) < 160);
    /* The test can fail: the same draws against the unscaled base. */
    lmb_dist_spec unscaled = spec;
    unscaled.scan_f = 0;
    assert_true(chi_square(counts, n, draws, &unscaled, &df) > 1000);
    free(rank_of);
    free(counts);
    free(scanned);
    lmb_dist_destroy(&d);

    char buf[64];
    const char *specs[] = {"scan:0.1:uniform", "scan:0.5:zipf:1.2",
                           "scan:0.01:hotset:0.9:0.1"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        assert_int_equal(lmb_dist_parse(specs[i], &spec, err, sizeof err), 0);
        lmb_dist_format(&spec, buf, sizeof buf);
        assert_string_equal(buf, specs[i]);
    }
    const char *bad[] = {"scan",         "scan:",          "scan:0.1",
                         "scan:0.1:",    "scan:0:uniform", "scan:1:uniform",
                         "scan:x:zipf",  "scan:0.1:normal",
                         "scan:0.1:scan:0.1:uniform"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(lmb_dist_parse(bad[i], &spec, err, sizeof err), -1);
        assert_true(strlen(err) > 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_specs),
        cmocka_unit_test(scramble_is_a_permutation),
        cmocka_unit_test(hot_keys_are_not_neighbours),
        cmocka_unit_test(zipf_matches_theta),
        cmocka_unit_test(hotset_and_uniform),
        cmocka_unit_test(scan_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
