#!/usr/bin/env python3
"""Turns bench/run's raw results into the generated parts of docs/benchmarks.md and the plots.

    bench/report.py --results DIR --doc docs/benchmarks.md --plots docs/bench

DIR holds <surface>.jsonl files (one JSON object per measurement; the first line says when and
under which load the surface ran), run.json (the last run: command, machine, load) and
datasets.jsonl (catalogue generation times). Each surface's block in the document sits between
`<!-- bench/run:<surface> begin -->` and `<!-- bench/run:<surface> end -->`; only blocks whose
surface has results are replaced, so a partial run (`bench/run --only graph`) leaves the others.
Plots are drawn with gnuplot into SVG files. Standard library only.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

GRAPH_CASES = [
    ("floor(no work)", "floor (no work: `SELECT 1` / a refused call)"),
    ("neighbors", "neighbors"),
    ("k_hop(3,max caps)", "k_hop (3 hops, max caps)"),
    ("path(<=5 hops)", "path (≤ 5 hops apart)"),
    ("path(unreachable,rel)", "path (unreachable, relations only)"),
    ("compare", "compare"),
]
GRAPH_SHORT = {"floor(no work)": "floor", "neighbors": "neighbors", "k_hop(3,max caps)": "k_hop",
               "path(<=5 hops)": "path", "path(unreachable,rel)": "unreachable pair",
               "compare": "compare"}


def ms(x):
    if x is None:
        return "—"
    if x < 0:
        return "> 30,000"
    if x < 1:
        return f"{x:.3f}"
    if x < 10:
        return f"{x:.2f}"
    if x < 100:
        return f"{x:.1f}"
    return f"{x:,.0f}"


def pg_ms(x):
    if x is None:
        return "—"
    return f"{x:.4f}" if x < 1 else ms(x)


def rate(x):
    if x is None:
        return "—"
    return f"{x:,.0f}" if x >= 10 else f"{x:.1f}"


def ratio(a, b):
    if a is None or not b:
        return "—"
    r = a / b
    return f"{r:.2f}×" if r < 10 else f"{r:.0f}×"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def load(results_dir):
    surfaces = {}
    for name in sorted(os.listdir(results_dir)):
        if not name.endswith(".jsonl") or name in ("datasets.jsonl", "tmp.jsonl"):
            continue
        meta, end, rows = {}, {}, []
        with open(os.path.join(results_dir, name)) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                rec = json.loads(line)
                if rec.get("bench") == "meta":
                    meta = rec
                elif rec.get("bench") == "meta_end":
                    end = rec
                else:
                    rows.append(rec)
        surfaces[name[: -len(".jsonl")]] = {"meta": meta, "end": end, "rows": rows}
    run, datasets = {}, []
    if os.path.exists(os.path.join(results_dir, "run.json")):
        with open(os.path.join(results_dir, "run.json")) as f:
            run = json.load(f)
    if os.path.exists(os.path.join(results_dir, "datasets.jsonl")):
        with open(os.path.join(results_dir, "datasets.jsonl")) as f:
            datasets = [json.loads(l) for l in f if l.strip()]
    return surfaces, run, datasets


def when(surface):
    m, e = surface["meta"], surface["end"]
    quick = " (`--quick`: short runs)" if m.get("quick") else ""
    return (f"Measured {m.get('started', '?')}{quick}; load average {m.get('load_before', '?')} "
            f"before, {e.get('load_after', '?')} after.")


def find(rows, **kw):
    for r in rows:
        if all(r.get(k) == v for k, v in kw.items()):
            return r
    return None


# ---------------------------------------------------------------- surfaces


def graph_block(s, plots):
    rows = s["rows"]
    clients = sorted({r["clients"] for r in rows})
    body = []
    for case, label in GRAPH_CASES:
        for c in clients:
            lib = find(rows, case=case, clients=c, mode="libpq", engine="sql")
            sql = find(rows, case=case, clients=c, mode="grpc", engine="sql")
            mem = find(rows, case=case, clients=c, mode="grpc", engine="memory")
            mem_lib = find(rows, case=case, clients=c, mode="libpq", engine="memory")
            if not (lib or sql or mem):
                continue
            pair = lambda r: f"{ms(r['p50_ms'])} / {ms(r['p99_ms'])}" if r else "—"
            body.append([
                label, c, pair(lib), rate(lib and lib["rate"]),
                pair(sql), rate(sql and sql["rate"]), ratio(sql and sql["rate"], lib and lib["rate"]),
                pair(mem), rate(mem and mem["rate"]),
                ratio(mem and mem["rate"], mem_lib and mem_lib["rate"]),
            ])
    out = [when(s), "", table(
        ["primitive", "clients", "libpq p50 / p99 ms", "libpq req/s", "gRPC, SQL engine p50 / p99 ms",
         "req/s", "÷ libpq", "gRPC, memory engine p50 / p99 ms", "req/s", "÷ libpq"], body),
           "", "÷ libpq: throughput as a multiple of the libpq rounds run alternately with it (the "
           "memory engine's run has its own libpq rounds)."]
    pg_body = []
    for case, label in GRAPH_CASES:
        for c in clients:
            lib = find(rows, case=case, clients=c, mode="libpq", engine="sql")
            sql = find(rows, case=case, clients=c, mode="grpc", engine="sql")
            mem = find(rows, case=case, clients=c, mode="grpc", engine="memory")
            cpu = [r.get("pg_cpu_ms") if r else None for r in (lib, sql, mem)]
            if all(x is None for x in cpu):
                continue
            pg_body.append([label, c] + [pg_ms(x) for x in cpu])
    if pg_body:
        out += ["", "PostgreSQL CPU per call (ms): time on CPU of the server processes connected to "
                "the catalogue's database while the calls ran (`/proc/<pid>/schedstat`), over the "
                "calls.", "", table(["primitive", "clients", "libpq", "gRPC, SQL engine",
                                     "gRPC, memory engine"], pg_body)]
    over = []
    for case, label in GRAPH_CASES:
        lib = find(rows, case=case, clients=1, mode="libpq", engine="sql")
        sql = find(rows, case=case, clients=1, mode="grpc", engine="sql")
        if lib and sql:
            over.append(f"{GRAPH_SHORT[case]} {sql['p50_ms'] - lib['p50_ms']:+.3f}")
    if over:
        out += ["", "gRPC overhead at p50, SQL engine, 1 client (gRPC p50 − libpq p50, ms): "
                + "; ".join(over) + "."]
    out += ["", "![Latency per primitive and engine](bench/graph_latency.svg)", "",
            "![Throughput against clients](bench/graph_throughput.svg)"]
    plot_graph_latency(rows, plots)
    plot_graph_throughput(rows, plots)
    return "\n".join(out)


def scale_block(s, graph, sf10, datasets, plots):
    rows = list(s["rows"]) + (sf10["rows"] if sf10 else [])
    if graph and not any(r["scale"] == "1" for r in rows):
        rows += [r for r in graph["rows"] if r["clients"] == 1 and r["scale"] == "1"]
    scales = sorted({r["scale"] for r in rows}, key=float)
    gen = {d["case"]: d for d in datasets}  # the last generation of each catalogue
    body = []
    for sc in scales:
        for case, label in GRAPH_CASES[1:]:
            lib = find(rows, scale=sc, case=case, mode="libpq", engine="sql")
            sql = find(rows, scale=sc, case=case, mode="grpc", engine="sql")
            mem = find(rows, scale=sc, case=case, mode="grpc", engine="memory")
            if not (lib or sql or mem):
                continue
            body.append([f"SF{sc}", label, ms(lib and lib["p50_ms"]), ms(sql and sql["p50_ms"]),
                         ms(mem and mem["p50_ms"]), rate(sql and sql["rate"]),
                         rate(mem and mem["rate"]), ratio(mem and mem["rate"], sql and sql["rate"])])
    note = " SF1 rows: the graph primitives' 1-client measurement above."
    if sf10:
        note += f" SF10 rows: bench/run --sf10, {when(sf10)[0].lower() + when(sf10)[1:]}"
    out = [when(s) + note, "",
           table(["catalogue", "primitive (1 client)", "libpq p50 ms",
                               "gRPC SQL p50 ms", "gRPC memory p50 ms", "SQL req/s",
                               "memory req/s", "memory ÷ SQL"], body)]
    def size(d):
        return f"{d['bytes'] / 2**30:.1f} GiB" if d.get("bytes") else "—"

    gen_rows = [[d["case"].upper(), f"{d['anime']:,}", f"{d['seconds']:.0f} s", size(d), d["when"],
                 d["load"]] for d in sorted(gen.values(), key=lambda d: float(d["case"][2:]))]
    if gen_rows:
        out += ["", "Generating a catalogue (`postgres-service generate`, COPY with indexes and "
                "foreign keys on, then `VACUUM ANALYZE`), as bench/run last did it:", "",
                table(["catalogue", "anime", "wall time", "database size", "when", "load average"],
                      gen_rows)]
    out += ["", "![Cost against catalogue size](bench/graph_scale.svg)"]
    plot_graph_scale(rows, datasets, plots)
    return "\n".join(out)


def graphql_engine_block(s):
    rows = s["rows"]
    ours = find(rows, case="BM_HydrationParseValidateExecute", mode="ours")
    js = next((r for r in rows if r["mode"].startswith("graphql-js")), None)
    only = find(rows, case="BM_ParseValidateOnly", mode="ours")
    body = []
    if ours:
        body.append(["ours: parse + validate + execute", f"{ms(ours['ms_per_op'])} ms",
                     rate(ours["rate"]), f"{ours['allocs_per_op']:,.0f}",
                     ratio(ours["rate"], js and js["rate"])])
    if js:
        body.append([f"{js['mode']}: the same", f"{ms(js['ms_per_op'])} ms", rate(js["rate"]), "—",
                     "baseline"])
    if only:
        body.append(["ours: parse + validate only", f"{only['ms_per_op'] * 1000:.1f} µs",
                     rate(only["rate"]), f"{only['allocs_per_op']:,.0f}", "—"])
    return "\n".join([when(s), "", table(["engine", "CPU time / op", "ops/s of CPU", "allocations / op",
                                          "× graphql-js"], body)])


def request_parse_block(s):
    rows = s["rows"]
    body = []
    for r in rows:
        if r["mode"] != "ours":
            continue
        base = find(rows, case=r["case"], mode="rapidjson")
        body.append([r["case"], r["outcome"], f"{ms(r['p50_ms'])} / {ms(r['max_ms'])}",
                     rate(r["mb_s"]) if base else "—",
                     f"{ms(base['p50_ms'])} / {ms(base['max_ms'])}" if base else "—",
                     rate(base["mb_s"]) if base else "—",
                     ratio(r["p50_ms"], base["p50_ms"]) if base and base["p50_ms"] > 0.001 else "—"])
    return "\n".join([when(s), "", table(
        ["1 MiB body", "answer", "DecodeJsonBody p50 / max ms", "MB/s", "RapidJSON DOM p50 / max ms",
         "MB/s", "time ÷ RapidJSON"], body)])


def http_block(s, cases, modes, unit):
    """cases: [(case, label, [(baseline mode, baseline label)])]; modes: mode -> label."""
    rows = s["rows"]
    has_wal = any("wal_bytes_per_view" in r for r in rows)
    body = []
    for case, label, baselines in cases:
        for mode, mode_label in modes.items():
            r = find(rows, case=case, mode=mode)
            if not r:
                continue
            if any(mode == b for b, _ in baselines):
                vs = "baseline"
            else:
                parts = []
                for b, blabel in baselines:
                    base = find(rows, case=b[1], mode=b[0]) if isinstance(b, tuple) else find(rows, case=case, mode=b)
                    if base and base.get("rate"):
                        parts.append(f"{ratio(r['rate'], base['rate'])} {blabel}")
                vs = ", ".join(parts) or "—"
            extra = []
            if has_wal:
                extra = [f"{r['wal_bytes_per_view']:,.1f}" if "wal_bytes_per_view" in r else "—"]
            errors = f" ({r['errors']:,} non-2xx)" if r.get("errors") else ""
            body.append([label, mode_label, r["clients"], ms(r["p50_ms"]), ms(r["p99_ms"]),
                         rate(r["rate"]) + errors] + extra + [vs])
    header = ["workload", "implementation", "connections", "p50 ms", "p99 ms", unit]
    if has_wal:
        header.append("WAL bytes / view")
    header.append("throughput ÷ baseline")
    return "\n".join([when(s), "", table(header, body)])


def write_block(s):
    rows = s["rows"]
    base = find(rows, case="enriched", mode="direct", batch=100) or next(
        (r for r in rows if r["case"] == "enriched" and r["mode"] == "direct" and r["batch"] > 1), None)
    labels = {"direct": "in-process `EventApplier` (the same SQL through libpq, no gRPC)",
              "grpc": "gRPC `ApplyEvents`", "jetstream": "JetStream consumer (one fetch per transaction)"}
    body = []
    for r in rows:
        if r["case"] != "enriched":
            continue
        per_call = "1 event" if r["batch"] == 1 else f"{r['batch']} events"
        lat = (f"{ms(r['p50_ms'])} / {ms(r['p99_ms'])}" if r["p50_ms"] else "—")
        vs = "baseline" if r is base else ratio(r["rate"], base and base["rate"])
        body.append([labels.get(r["mode"], r["mode"]), r["clients"], per_call, lat, rate(r["rate"]), vs])
    out = [when(s), "", table(["path", "clients", "per call / transaction", "p50 / p99 ms per call",
                               "events/s", "÷ baseline"], body)]
    lag = find(rows, case="outbox_lag")
    if lag:
        out += ["", f"Outbox lag (row committed → JetStream acknowledged) while writing "
                f"{rate(lag['rate'])} events/s: p50 ≤ {ms(lag['p50_ms'])} ms, p99 ≤ {ms(lag['p99_ms'])} ms "
                "(upper bounds of the relay's latency buckets)."]
    return "\n".join(out)


def summary_block(run, surfaces):
    if not run:
        return None
    lines = [
        f"Last run: `{run['command']}`, finished {run['finished']} in {run['seconds']} s, commit "
        f"`{run['commit']}`.",
        "",
        f"Machine: {run['cores']} cores ({run['cpu']}), {run['memory_gib']} GiB; load average "
        f"{run['load_before']} before, {run['load_after']} after (1, 5 and 15 minutes). The "
        "benchmark, its baseline and PostgreSQL share these cores.",
    ]
    if run.get("quick"):
        lines += ["", "A `--quick` run: 1–3 s per measurement and fewer client counts; its numbers "
                  "are indicative, `bench/run` without `--quick` is the reference."]
    dated = [f"{k} ({v['meta'].get('started', '?')})" for k, v in sorted(surfaces.items())]
    lines += ["", "Results per surface as last measured: " + ", ".join(dated) + "."]
    return "\n".join(lines)


# ---------------------------------------------------------------- plots


def gnuplot(script, data_files, out_path):
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in data_files.items():
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        header = (f"set terminal svg size 860,460 dynamic noenhanced font 'sans,12' background rgb 'white'\n"
                  f"set output '{os.path.abspath(out_path)}'\nset key outside right top\n"
                  "set grid ytics lc rgb '#dddddd'\nset border 3\nset tics nomirror\n")
        subprocess.run(["gnuplot"], input=header + script, text=True, cwd=tmp, check=True)


def plot_graph_latency(rows, plots):
    # One line per primitive: its label, then p50 and p99 of libpq, gRPC SQL, gRPC memory.
    lines = []
    for case, label in GRAPH_CASES:
        vals = []
        for mode, engine in (("libpq", "sql"), ("grpc", "sql"), ("grpc", "memory")):
            r = find(rows, case=case, clients=1, mode=mode, engine=engine)
            vals += [r["p50_ms"], r["p99_ms"]] if r else ["NaN", "NaN"]
        short = label.split(" (")[0] if case != "path(unreachable,rel)" else "path (unreachable)"
        lines.append(f'"{short}" ' + " ".join(str(v) for v in vals))
    series = [("libpq (same SQL, no service)", 2, "#9e9e9e", -0.27),
              ("gRPC, SQL engine", 4, "#1f77b4", 0.0), ("gRPC, memory engine", 6, "#2ca02c", 0.27)]
    clauses = []
    for title, col, color, dx in series:
        clauses.append(f"'lat.dat' using ($0 + {dx}):{col}:(0.25){':xtic(1)' if dx == 0 else ''} "
                       f"with boxes lc rgb '{color}' title '{title}'")
        clauses.append(f"'lat.dat' using ($0 + {dx}):{col}:{col}:{col + 1} with yerrorbars "
                       "lc rgb 'black' pt -1 notitle")
    gnuplot("""set title 'Graph primitives at SF1, 1 client: p50 (bar) to p99 (whisker)'
set ylabel 'milliseconds (log scale)'
set logscale y
set yrange [0.01:*]
set xrange [-0.6:5.6]
set style fill solid 0.8 border -1
set xtics rotate by -20
plot """ + ", \\\n     ".join(clauses) + "\n",
            {"lat.dat": "\n".join(lines) + "\n"}, os.path.join(plots, "graph_latency.svg"))


def lines_spec(count, per_color, data, colors):
    """Plot clauses for data columns 2..count+1: one colour per group of `per_color` series,
    a dash type and point type per series within the group."""
    clauses = []
    for k in range(count):
        group, member = divmod(k, per_color)
        clauses.append(f"'{data}' using 1:{k + 2} with linespoints lw 2 pt {5 + 2 * member} "
                       f"dt {member + 1} lc rgb '{colors[group % len(colors)]}' "
                       f"title columnheader({k + 2})")
    return ", \\\n     ".join(clauses)


def plot_graph_throughput(rows, plots):
    clients = sorted({r["clients"] for r in rows})
    series = []
    for case, short in (("neighbors", "neighbors"), ("k_hop(3,max caps)", "k_hop"),
                        ("path(<=5 hops)", "path")):
        for mode, engine, what in (("libpq", "sql", "libpq"), ("grpc", "sql", "gRPC SQL"),
                                   ("grpc", "memory", "gRPC memory")):
            series.append((f"{short}, {what}", case, mode, engine))
    lines = ["clients " + " ".join(f'"{s[0]}"' for s in series)]
    for c in clients:
        vals = []
        for _, case, mode, engine in series:
            r = find(rows, case=case, clients=c, mode=mode, engine=engine)
            vals.append(str(r["rate"]) if r else "NaN")
        lines.append(f"{c} " + " ".join(vals))
    gnuplot(f"""set title 'Graph primitives at SF1: throughput against concurrent clients'
set xlabel 'clients'
set ylabel 'requests/s (log scale)'
set logscale y
set xtics ({", ".join(str(c) for c in clients)})
set key font ',10'
plot {lines_spec(len(series), 3, 'thr.dat', ["#1f77b4", "#d62728", "#2ca02c"])}
""", {"thr.dat": "\n".join(lines) + "\n"}, os.path.join(plots, "graph_throughput.svg"))


def plot_graph_scale(rows, datasets, plots):
    anime = {d["case"][2:]: d["anime"] for d in datasets}  # the last generation of each
    fallback = {"0.1": 3000, "1": 30000, "10": 300000}
    scales = sorted({r["scale"] for r in rows}, key=float)
    series = []
    for case, short in (("neighbors", "neighbors"), ("k_hop(3,max caps)", "k_hop"),
                        ("path(<=5 hops)", "path"), ("path(unreachable,rel)", "path unreachable")):
        for engine in ("sql", "memory"):
            series.append((f"{short}, {'SQL' if engine == 'sql' else 'memory'}", case, engine))
    lines = ["anime " + " ".join(f'"{s[0]}"' for s in series)]
    for sc in scales:
        vals = []
        for _, case, engine in series:
            r = find(rows, scale=sc, case=case, clients=1, mode="grpc", engine=engine)
            vals.append(str(r["p50_ms"]) if r else "NaN")
        lines.append(f"{anime.get(sc, fallback.get(sc, 0))} " + " ".join(vals))
    gnuplot(f"""set title 'Graph primitives over gRPC, 1 client: p50 against catalogue size'
set xlabel 'anime in the catalogue (SF0.1, SF1, SF10; log scale)'
set ylabel 'p50 milliseconds (log scale)'
set logscale xy
set xrange [2000:500000]
set key font ',10'
plot {lines_spec(len(series), 2, 'scale.dat', ["#1f77b4", "#d62728", "#ff7f0e", "#9467bd"])}
""", {"scale.dat": "\n".join(lines) + "\n"}, os.path.join(plots, "graph_scale.svg"))


# ---------------------------------------------------------------- document


def replace_block(doc, name, text):
    pattern = re.compile(r"(<!-- bench/run:%s begin -->\n).*?(<!-- bench/run:%s end -->)"
                         % (re.escape(name), re.escape(name)), re.S)
    if not pattern.search(doc):
        print(f"report: no block for {name} in the document; skipped", file=sys.stderr)
        return doc
    return pattern.sub(lambda m: m.group(1) + text.rstrip("\n") + "\n" + m.group(2), doc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", required=True)
    ap.add_argument("--doc", required=True)
    ap.add_argument("--plots", required=True)
    args = ap.parse_args()
    os.makedirs(args.plots, exist_ok=True)
    surfaces, run, datasets = load(args.results)
    with open(args.doc) as f:
        doc = f.read()
    blocks = {}
    if "graph" in surfaces:
        blocks["graph"] = graph_block(surfaces["graph"], args.plots)
    if "scale" in surfaces:
        blocks["scale"] = scale_block(surfaces["scale"], surfaces.get("graph"),
                                      surfaces.get("scale_sf10"), datasets, args.plots)
    if "graphql_engine" in surfaces:
        blocks["graphql_engine"] = graphql_engine_block(surfaces["graphql_engine"])
    if "request_parse" in surfaces:
        blocks["request_parse"] = request_parse_block(surfaces["request_parse"])
    if "graphql_api" in surfaces:
        blocks["graphql_api"] = http_block(
            surfaces["graphql_api"],
            [("hydration", "hydration: 20 anime, studios, 10 characters, relations",
              [("libpq", "libpq"), ("postgraphile-list", "PostGraphile (list)")]),
             ("typeahead", "typeahead: random 3-letter prefixes, limit 10", [("libpq", "libpq")])],
            {"ours": "ours (`graphql_test_server`)", "libpq": "the same SQL through libpq (pgbench)",
             "postgraphile-list": "PostGraphile 5, `allAnime(filter: rowId in)`",
             "postgraphile-alias": "PostGraphile 5, 20 aliased `animeByRowId`"}, "req/s")
    if "graphql_list" in surfaces:
        blocks["graphql_list"] = http_block(
            surfaces["graphql_list"],
            [("page1", "page 1 of 20", [("postgraphile", "PostGraphile"),
                                         (("ours", "hydration"), "hydration")]),
             ("page1000", "page 1,000 (after the 20,000th row)", [(("ours", "page1"), "page 1")]),
             ("apq", "page 1 as a persisted query (hash only)", [(("ours", "page1"), "full text")]),
             ("page1_new_text", "page 1 as a new text every request",
              [(("ours", "page1"), "cached text")]),
             ("hydration", "hydration: 20 anime by id (as in the API section)", []),
             ("studio_score_page1", "largest studio's anime by score, page 1", []),
             ("studio_score_after1000", "the same, after its 1,000th anime",
              [(("ours", "studio_score_page1"), "page 1")]),
             ("studio_year_page1", "largest studio's anime by year, page 1", [])],
            {"ours": "ours (`graphql_test_server`)", "postgraphile": "PostGraphile 5, `allAnime`"},
            "req/s")
    if "write" in surfaces:
        blocks["write"] = write_block(surfaces["write"])
    if "views" in surfaces:
        blocks["views"] = http_block(
            surfaces["views"],
            [("one_anime", "views of one anime", [("libpq", "per-view UPDATE")]),
             ("many_anime", "views spread over 1,000 anime", [("libpq", "per-view UPDATE")]),
             ("healthz", "GET /healthz on the same server (the HTTP path alone)", []),
             ("typeahead_alone", "typeahead alone", []),
             ("typeahead_with_views", "typeahead beside 28 connections of views",
              [(("ours", "typeahead_alone"), "alone")])],
            {"ours": "ours (`serve`, `recordView` / `search`)",
             "libpq": "per-view `UPDATE … RETURNING` through libpq (pgbench)"}, "views/s or req/s")
    summary = summary_block(run, surfaces)
    if summary:
        blocks["summary"] = summary
    for name, text in blocks.items():
        doc = replace_block(doc, name, text)
    with open(args.doc, "w") as f:
        f.write(doc)
    print(f"report: {args.doc} ({', '.join(blocks)}), plots in {args.plots}")


if __name__ == "__main__":
    main()
