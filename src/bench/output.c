/*
 * cria bench's writers, in llama-bench's formats: md (a table, the system
 * summary on stderr), csv (a header line, one line per test), json (one
 * array of objects) and jsonl (one object per line). Field names are
 * llama-bench's (n_prompt, n_gen, n_threads, avg_ns, stddev_ns, avg_ts,
 * stddev_ts, samples_ns, samples_ts, model_*, cpu_info, build_commit) so
 * existing scripts keep working; cria's additions (test, achieved, limit,
 * pct_limit, speedup, efficiency, system) come after them.
 */
#include <math.h>
#include <string.h>

#include "bench/bench.h"

bool cria_bench_format_parse(const char *s, cria_bench_format *out)
{
    static const char *const names[] = {"md", "csv", "json", "jsonl"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) {
            *out = (cria_bench_format)i;
            return true;
        }
    return false;
}

/* Non-finite values (a test too short to time) are written as 0: JSON has no NaN. */
static double fin(double v)
{
    return isfinite(v) ? v : 0.0;
}

static const char *unit(const cria_bench_result *r)
{
    return r->test.n_prompt == 0 ? "GB/s" : "GFLOP/s";
}

void cria_bench_print_system(FILE *f, const cria_bench_system *s)
{
    fprintf(f, "system: %s, %d physical cores, %d logical CPUs, simd %s, governor %s\n", s->cpu_model, s->n_physical,
            s->n_logical, s->isa, s->governor);
    fprintf(f, "memory: %.1f GiB total, %.1f GiB available\n", s->mem_total_gib, s->mem_avail_gib);
    fprintf(f, "limits: memory read %.1f GB/s (%.1f GB/s on 1 thread), f32 FMA peak %.1f GFLOP/s (%.1f per thread); "
               "probe %.0f ms\n",
            s->bw_gbs, s->bw_gbs_1t, s->gflops, s->gflops_1t, s->probe_ms);
}

/* Writes s as a JSON string (quotes and escapes). */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* Writes s as a CSV field: always quoted, inner quotes doubled (llama-bench quotes every field). */
static void csv_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

static void md_header(cria_bench_writer *w)
{
    cria_bench_print_system(stderr, w->sys);
    fprintf(w->out, "| %-24s | %10s | %8s | %-7s | %7s |", "model", "size", "params", "backend", "threads");
    if (w->show_batch)
        fprintf(w->out, " %7s |", "n_batch");
    if (w->show_mask)
        fprintf(w->out, " %-12s |", "cpu_mask");
    if (w->show_strict)
        fprintf(w->out, " %6s |", "strict");
    if (w->show_poll)
        fprintf(w->out, " %4s |", "poll");
    fprintf(w->out, " %13s | %20s | %18s | %7s |", "test", "t/s", "achieved", "% limit");
    if (w->configs)
        fprintf(w->out, " %9s |", "t/s/seq");
    if (w->memory)
        fprintf(w->out, " %7s | %8s | %12s |", "n_ctx", "KV MiB", "peak RSS MiB");
    if (w->sweep)
        fprintf(w->out, " %7s | %6s |", "speedup", "eff %");
    const char *dashes = "------------------------";
    fprintf(w->out, "\n| %.24s | %.9s: | %.7s: | %.7s | %.6s: |", dashes, dashes, dashes, dashes, dashes);
    if (w->show_batch)
        fprintf(w->out, " %.6s: |", dashes);
    if (w->show_mask)
        fprintf(w->out, " %.12s |", dashes);
    if (w->show_strict)
        fprintf(w->out, " %.5s: |", dashes);
    if (w->show_poll)
        fprintf(w->out, " %.3s: |", dashes);
    fprintf(w->out, " %.12s: | %.19s: | %.17s: | %.6s: |", dashes, dashes, dashes, dashes);
    if (w->configs)
        fprintf(w->out, " %.8s: |", "---------");
    if (w->memory)
        fprintf(w->out, " %.6s: | %.7s: | %.11s: |", "-------", "--------", "------------");
    if (w->sweep)
        fprintf(w->out, " %.6s: | %.5s: |", "-------", "------");
    fputc('\n', w->out);
}

static void md_row(cria_bench_writer *w, const cria_bench_result *r)
{
    char name[48], ts[48], size[32], params[32], ach[32], pct[16];
    cria_bench_test_name(&r->test, name, sizeof name);
    snprintf(ts, sizeof ts, "%.2f ± %.2f", fin(r->avg_ts), fin(r->stddev_ts));
    const double mib = (double)r->model.size / (1024.0 * 1024.0);
    if (mib >= 1024.0)
        snprintf(size, sizeof size, "%.2f GiB", mib / 1024.0);
    else
        snprintf(size, sizeof size, "%.2f MiB", mib);
    const double np = (double)r->model.n_params;
    if (np >= 1e9)
        snprintf(params, sizeof params, "%.2f B", np / 1e9);
    else if (np >= 1e6)
        snprintf(params, sizeof params, "%.2f M", np / 1e6);
    else
        snprintf(params, sizeof params, "%.2f K", np / 1e3);
    snprintf(ach, sizeof ach, "%.2f %s", fin(r->achieved), unit(r));
    snprintf(pct, sizeof pct, r->limit > 0.0 ? "%.1f" : "-", fin(r->pct_limit));
    /* "±" is two bytes and one column: pad t/s by one more byte. */
    char threads[24];
    if (w->configs)
        snprintf(threads, sizeof threads, "%dx%d", r->test.n_seq, r->test.n_threads);
    else
        snprintf(threads, sizeof threads, "%d", r->test.n_threads);
    fprintf(w->out, "| %-24s | %10s | %8s | %-7s | %7s |", r->model.type, size, params, "CPU", threads);
    if (w->show_batch)
        fprintf(w->out, " %7d |", r->test.n_batch);
    if (w->show_mask)
        fprintf(w->out, " %-12s |", r->test.cpu_mask ? r->test.cpu_mask : "0x0");
    if (w->show_strict)
        fprintf(w->out, " %6d |", r->test.cpu_strict);
    if (w->show_poll)
        fprintf(w->out, " %4d |", r->test.poll);
    fprintf(w->out, " %13s | %21s | %18s | %7s |", name, ts, ach, pct);
    if (w->configs)
        fprintf(w->out, " %9.2f |", fin(r->avg_ts_seq));
    if (w->memory)
        fprintf(w->out, " %7d | %8.2f | %12.1f |", r->n_ctx, (double)r->kv_bytes / (1024.0 * 1024.0),
                (double)r->peak_rss / (1024.0 * 1024.0));
    if (w->sweep)
        fprintf(w->out, " %7.2f | %6.1f |", fin(r->speedup), fin(r->efficiency));
    fputc('\n', w->out);
}

static const char *const csv_fields =
    "build_commit,build_number,cpu_info,backends,model_filename,model_type,model_size,model_n_params,n_batch,n_ubatch,"
    "n_threads,cpu_mask,cpu_strict,poll,n_prompt,n_gen,test_time,avg_ns,stddev_ns,avg_ts,stddev_ts,test,achieved,"
    "achieved_unit,limit,pct_limit,n_ctx,kv_bytes,peak_rss_bytes,n_seq,avg_ts_seq";

static void csv_row(cria_bench_writer *w, const cria_bench_result *r)
{
    FILE *f = w->out;
    char name[48];
    cria_bench_test_name(&r->test, name, sizeof name);
    csv_str(f, w->build.commit);
    fputs(",0,", f);
    csv_str(f, w->sys->cpu_model);
    fputs(",\"CPU\",", f);
    csv_str(f, r->model.filename);
    fputc(',', f);
    csv_str(f, r->model.type);
    fprintf(f, ",%llu,%llu,%d,%d,%d,", (unsigned long long)r->model.size, (unsigned long long)r->model.n_params,
            r->test.n_batch, r->test.n_batch, r->test.n_threads);
    csv_str(f, r->test.cpu_mask ? r->test.cpu_mask : "0x0");
    fprintf(f, ",%d,%d,%d,%d,", r->test.cpu_strict, r->test.poll, r->test.n_prompt, r->test.n_gen);
    csv_str(f, r->time);
    fprintf(f, ",%.0f,%.0f,%.6f,%.6f,", fin(r->avg_ns), fin(r->stddev_ns), fin(r->avg_ts), fin(r->stddev_ts));
    csv_str(f, name);
    fprintf(f, ",%.6f,\"%s\",%.6f,%.3f,%d,%llu,%llu", fin(r->achieved), unit(r), fin(r->limit), fin(r->pct_limit),
            r->n_ctx, (unsigned long long)r->kv_bytes, (unsigned long long)r->peak_rss);
    fprintf(f, ",%d,%.6f", r->test.n_seq, fin(r->avg_ts_seq));
    if (w->sweep)
        fprintf(f, ",%.4f,%.2f", fin(r->speedup), fin(r->efficiency));
    fputc('\n', f);
}

static void json_system(FILE *f, const cria_bench_system *s)
{
    fputs("{\"cpu_model\": ", f);
    json_str(f, s->cpu_model);
    fprintf(f, ", \"n_physical\": %d, \"n_logical\": %d, \"simd\": ", s->n_physical, s->n_logical);
    json_str(f, s->isa);
    fputs(", \"governor\": ", f);
    json_str(f, s->governor);
    fprintf(f,
            ", \"mem_total_gib\": %.3f, \"mem_avail_gib\": %.3f, \"mem_read_gbs\": %.3f, \"mem_read_gbs_1t\": %.3f, "
            "\"peak_gflops\": %.3f, \"peak_gflops_1t\": %.3f, \"probe_ms\": %.1f}",
            s->mem_total_gib, s->mem_avail_gib, fin(s->bw_gbs), fin(s->bw_gbs_1t), fin(s->gflops), fin(s->gflops_1t),
            fin(s->probe_ms));
}

/* One result as a JSON object; sep separates its fields (", " for jsonl, ",\n    " for json). */
static void json_row(cria_bench_writer *w, const cria_bench_result *r, const char *sep)
{
    FILE *f = w->out;
    char name[48];
    cria_bench_test_name(&r->test, name, sizeof name);
    fputs("{", f);
    fprintf(f, "%s\"build_commit\": ", sep + 1);
    json_str(f, w->build.commit);
    fprintf(f, "%s\"build_number\": 0%s\"cria_version\": ", sep, sep);
    json_str(f, w->build.version);
    fprintf(f, "%s\"compiler\": ", sep);
    json_str(f, w->build.compiler);
    fprintf(f, "%s\"cpu_info\": ", sep);
    json_str(f, w->sys->cpu_model);
    fprintf(f, "%s\"gpu_info\": \"\"%s\"backends\": \"CPU\"%s\"model_filename\": ", sep, sep, sep);
    json_str(f, r->model.filename);
    fprintf(f, "%s\"model_type\": ", sep);
    json_str(f, r->model.type);
    fprintf(f, "%s\"model_size\": %llu%s\"model_n_params\": %llu%s\"model_bytes_per_token\": %llu", sep,
            (unsigned long long)r->model.size, sep, (unsigned long long)r->model.n_params, sep,
            (unsigned long long)r->model.bytes_per_token);
    fprintf(f, "%s\"n_batch\": %d%s\"n_ubatch\": %d%s\"n_threads\": %d%s\"cpu_mask\": ", sep, r->test.n_batch, sep,
            r->test.n_batch, sep, r->test.n_threads, sep);
    json_str(f, r->test.cpu_mask ? r->test.cpu_mask : "0x0");
    fprintf(f, "%s\"cpu_strict\": %s%s\"poll\": %d", sep, r->test.cpu_strict ? "true" : "false", sep, r->test.poll);
    fprintf(f, "%s\"n_prompt\": %d%s\"n_gen\": %d%s\"test_time\": ", sep, r->test.n_prompt, sep, r->test.n_gen, sep);
    json_str(f, r->time);
    fprintf(f, "%s\"avg_ns\": %.0f%s\"stddev_ns\": %.0f%s\"avg_ts\": %.6f%s\"stddev_ts\": %.6f", sep, fin(r->avg_ns),
            sep, fin(r->stddev_ns), sep, fin(r->avg_ts), sep, fin(r->stddev_ts));
    fprintf(f, "%s\"samples_ns\": [", sep);
    for (int32_t i = 0; i < r->n_samples; i++)
        fprintf(f, "%s%lld", i ? ", " : " ", (long long)r->samples_ns[i]);
    fprintf(f, " ]%s\"samples_ts\": [", sep);
    for (int32_t i = 0; i < r->n_samples; i++)
        fprintf(f, "%s%.6f", i ? ", " : " ", fin(r->samples_ts[i]));
    fprintf(f, " ]%s\"test\": ", sep);
    json_str(f, name);
    fprintf(f, "%s\"achieved\": %.6f%s\"achieved_unit\": \"%s\"%s\"limit\": %.6f%s\"pct_limit\": %.3f", sep,
            fin(r->achieved), sep, unit(r), sep, fin(r->limit), sep, fin(r->pct_limit));
    fprintf(f, "%s\"n_ctx\": %d%s\"kv_bytes\": %llu%s\"peak_rss_bytes\": %llu", sep, r->n_ctx, sep,
            (unsigned long long)r->kv_bytes, sep, (unsigned long long)r->peak_rss);
    fprintf(f, "%s\"n_seq\": %d%s\"avg_ts_seq\": %.6f", sep, r->test.n_seq, sep, fin(r->avg_ts_seq));
    if (w->sweep)
        fprintf(f, "%s\"speedup\": %.4f%s\"efficiency\": %.2f", sep, fin(r->speedup), sep, fin(r->efficiency));
    fprintf(f, "%s\"system\": ", sep);
    json_system(f, w->sys);
    fputs(sep[1] == '\n' ? "\n  }" : "}", f);
}

void cria_bench_write_header(cria_bench_writer *w)
{
    w->n_rows = 0;
    switch (w->format) {
    case CRIA_BENCH_MD:
        md_header(w);
        break;
    case CRIA_BENCH_CSV:
        fprintf(w->out, "%s%s\n", csv_fields, w->sweep ? ",speedup,efficiency" : "");
        break;
    case CRIA_BENCH_JSON:
        fputs("[\n", w->out);
        break;
    case CRIA_BENCH_JSONL:
        break;
    }
    fflush(w->out);
}

void cria_bench_write_row(cria_bench_writer *w, const cria_bench_result *r)
{
    switch (w->format) {
    case CRIA_BENCH_MD:
        md_row(w, r);
        break;
    case CRIA_BENCH_CSV:
        csv_row(w, r);
        break;
    case CRIA_BENCH_JSON:
        if (w->n_rows > 0)
            fputs(",\n", w->out);
        fputs("  ", w->out);
        json_row(w, r, ",\n    ");
        break;
    case CRIA_BENCH_JSONL:
        json_row(w, r, ", ");
        fputc('\n', w->out);
        break;
    }
    w->n_rows++;
    fflush(w->out);
}

void cria_bench_write_footer(cria_bench_writer *w)
{
    if (w->format == CRIA_BENCH_JSON)
        fputs("\n]\n", w->out);
    fflush(w->out);
}
