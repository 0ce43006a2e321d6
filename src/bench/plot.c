/*
 * cria bench --plot: the figures of ../shared/seeds (speedup vs threads with
 * the ideal line, efficiency with a 50% line; throughput per configuration)
 * drawn by gnuplot from a script piped to it, the data inline as datablocks.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "base/error.h"
#include "bench/bench.h"

void cria_bench_point_of(const cria_bench_result *r, const char *model_name, cria_bench_point *pt)
{
    char name[48];
    cria_bench_test_name(&r->test, name, sizeof name);
    memset(pt, 0, sizeof *pt);
    snprintf(pt->series, sizeof pt->series, "%.60s %.30s", model_name, name);
    pt->n_seq = r->test.n_seq > 1 ? r->test.n_seq : 1;
    pt->n_threads = r->test.n_threads;
    pt->avg_ts = r->avg_ts;
    pt->stddev_ts = r->stddev_ts;
    pt->speedup = r->speedup;
    pt->efficiency = r->efficiency;
}

/* Writes s as a gnuplot double-quoted string body (no quotes, backslashes or newlines pass through). */
static void gp_str(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc(*s == '"' || *s == '\\' || *s == '\n' ? '_' : *s, f);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* One datablock per series: threads, speedup, efficiency, in row order. */
static int32_t write_sweep(FILE *f, const cria_bench_point *pts, int32_t n)
{
    int32_t n_series = 0;
    for (int32_t i = 0; i < n; i++) {
        bool seen = false;
        for (int32_t j = 0; j < i && !seen; j++)
            seen = !strcmp(pts[j].series, pts[i].series);
        if (seen)
            continue;
        fprintf(f, "$s%d << EOD\n", n_series);
        for (int32_t j = i; j < n; j++)
            if (!strcmp(pts[j].series, pts[i].series))
                fprintf(f, "%d %.6f %.4f\n", pts[j].n_threads, pts[j].speedup, pts[j].efficiency);
        fputs("EOD\n", f);
        n_series++;
    }
    int32_t max_t = 1;
    for (int32_t i = 0; i < n; i++)
        max_t = pts[i].n_threads > max_t ? pts[i].n_threads : max_t;
    fprintf(f, "set multiplot layout 1,2 title \"cria bench: thread scaling\"\n"
               "set xlabel \"threads\"\nset xrange [0.5:%d.5]\nset xtics 1\nset grid\nset key top left\n"
               "set ylabel \"speedup vs 1 thread\"\nset yrange [0:*]\n"
               "plot x title \"ideal\" with lines dashtype 2 lc rgb \"gray\"",
            max_t);
    for (int32_t s = 0, i = 0; s < n_series; i++) {
        bool first = true;
        for (int32_t j = 0; j < i && first; j++)
            first = strcmp(pts[j].series, pts[i].series) != 0;
        if (!first)
            continue;
        fprintf(f, ", $s%d using 1:2 title \"", s);
        gp_str(f, pts[i].series);
        fputs("\" with linespoints", f);
        s++;
    }
    fputs("\nset ylabel \"efficiency (%)\"\nset yrange [0:*]\nset key top right\n"
          "plot 50 title \"50%\" with lines dashtype 2 lc rgb \"red\"",
          f);
    for (int32_t s = 0; s < n_series; s++)
        fprintf(f, ", $s%d using 1:3 notitle with linespoints", s);
    fputs("\nunset multiplot\n", f);
    return n_series;
}

/* A bar per row: tokens/s with its stddev, labelled by test and threads (NxT for configs). */
static void write_bars(FILE *f, const cria_bench_point *pts, int32_t n)
{
    fputs("$d << EOD\n", f);
    for (int32_t i = 0; i < n; i++) {
        fputc('"', f);
        gp_str(f, pts[i].series);
        if (pts[i].n_seq > 1)
            fprintf(f, " %dx%d", pts[i].n_seq, pts[i].n_threads);
        else
            fprintf(f, " t%d", pts[i].n_threads);
        fprintf(f, "\" %.6f %.6f\n", pts[i].avg_ts, pts[i].stddev_ts);
    }
    fputs("EOD\n"
          "set title \"cria bench: tokens/s (configs NxT: all sequences together)\"\n"
          "set style fill solid 0.6\nset boxwidth 0.7\nset yrange [0:*]\nset grid ytics\n"
          "set ylabel \"tokens/s\"\nset xtics rotate by -30\nset bmargin 8\n"
          "plot $d using 0:2:xtic(1) with boxes notitle, $d using 0:2:3 with yerrorbars notitle lc rgb \"black\"\n",
          f);
}

cria_status cria_bench_plot(const char *path, const cria_bench_point *pts, int32_t n, bool sweep, cria_error *err)
{
    const char *term = ends_with(path, ".svg") ? "svg size 1000,450 dynamic background rgb \"white\""
                       : ends_with(path, ".png") ? "png size 1000,450"
                                                  : NULL;
    if (!term)
        return cria_err_set(err, CRIA_ERR_UNSUPPORTED, "%s: the plot file must end in .svg or .png", path);
    if (strpbrk(path, "\"\\\n"))
        return cria_err_set(err, CRIA_ERR_ARG, "%s: a plot file name may not hold quotes, backslashes or newlines",
                            path);
    if (n == 0)
        return cria_err_set(err, CRIA_ERR_ARG, "%s: nothing to plot", path);
    /* gnuplot is found through the shell; its own messages go to our stderr. */
    if (system("command -v gnuplot > /dev/null 2>&1") != 0)
        return cria_err_set(err, CRIA_ERR_UNSUPPORTED, "--plot needs gnuplot (apt-get install gnuplot-nox)");
    FILE *f = popen("gnuplot", "w");
    if (!f)
        return cria_err_set(err, CRIA_ERR_IO, "cannot run gnuplot");
    fprintf(f, "set terminal %s\nset output \"", term);
    gp_str(f, path);
    fputs("\"\n", f);
    if (sweep)
        write_sweep(f, pts, n);
    else
        write_bars(f, pts, n);
    fputs("set output\n", f);
    const int status = pclose(f);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return cria_err_set(err, CRIA_ERR_IO, "%s: gnuplot failed (exit status %d)", path,
                            WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return CRIA_OK;
}
