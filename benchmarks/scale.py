"""Scale benchmark (issue 6): reportbot at 10k, 100k and 1M paragraphs.

    python -m benchmarks.scale [--scales 10k,100k,1M] [--questions 100] [--out bench-out]

For each scale it makes a corpus folder from /work/shared/corpora (real report and statute texts,
one paragraph per line), builds an index of it with `index.build.build_index` (the real
ingestion, parallel tokenizing and inversion), and measures, each step in a fresh process:

* build: wall time, peak RSS of the build process and of its largest worker, index size;
* queries (top 10, one thread, warm: every question asked once before timing, then
  `--rounds` timed rounds): `core` is tokenizing the question + `SearchIndex.bm25_top` (plain
  BM25, exact) + reading the 10 paragraphs; `served` is `SearchIndex.search(q, top=10)`, what
  the bot answers with (question analysis and re-ranking of a larger BM25 pool included);
* cold start: `reportbot ask --json --top 10 QUESTION` from process start to exit;
* serving RSS after all the queries;
* rank-bm25 (`BM25Okapi.get_scores`) on the same tokens from the index: time per question, the
  speed ratio to `core`, and whether the top 10 agree (the same scores, so the same
  documents up to ties);
* incremental update: one report file changed (a paragraph edited, one removed, one added),
  the index updated, and its answers to every question compared with a full rebuild's.

How the corpus reaches a scale: the report corpora come first (national, provincial, county),
then the statutes in a fixed shuffled order; whole files are taken until the paragraphs (as
ingestion counts them) reach the scale. Past the end of the corpus it starts again with a
new copy: copy `c` of a file is `copy<c>/<its path>`, a different source, so its reports and
paragraphs get their own ids. 1M = the whole corpus twice and most of it a third time.

Results go to OUT/results.json; the table is printed as Markdown (see BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPORA = Path(os.environ.get("REPORTBOT_CORPORA", "/work/shared/corpora"))
QUESTIONS = Path(__file__).resolve().parent / "questions.txt"
SCALES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}
STATUTES = "laws-regulations"  # the one corpus that is not reports
SHUFFLE_SEED = 6
REFERENCE_MAX_PARAGRAPHS = 200_000  # above this, rank-bm25 runs on a subset of questions
REFERENCE_SUBSET = 10  # ... of this many questions (every n-th)
EDIT_TEXT = "（本段已修订：加快发展新质生产力，推进高标准农田和四好农村路建设。）"
IN_PROCESS = False  # --in-process: every measurement in this process (for the smoke test)
ADDED_PARAGRAPH = "新增段落：统筹推进城市更新行动和老旧小区改造，完善养老托育服务体系。"


# --- the corpus ---------------------------------------------------------------------------


def corpus_files(corpora: Path) -> list[Path]:
    """Report files first (sorted), then the statutes in a fixed shuffled order."""
    files = sorted(p for p in corpora.rglob("*.txt") if p.is_file())
    reports = [p for p in files if p.relative_to(corpora).parts[0] != STATUTES]
    statutes = [p for p in files if p.relative_to(corpora).parts[0] == STATUTES]
    random.Random(SHUFFLE_SEED).shuffle(statutes)
    return reports + statutes


def _count(path: Path) -> int:
    from index.ingest import parse_file
    from index.loaders import UnreadableFile

    try:
        return sum(len(r.paragraphs) for r in parse_file(path, path.name))
    except UnreadableFile:
        return 0


def paragraph_counts(corpora: Path, files: list[Path], cache: Path) -> dict[str, int]:
    """Paragraphs per file as ingestion finds them (cached by path and size)."""
    known: dict[str, list[int]] = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [
        p
        for p in files
        if known.get(p.relative_to(corpora).as_posix(), [-1])[0] != p.stat().st_size
    ]
    if todo:
        print(f"counting paragraphs of {len(todo)} files …", file=sys.stderr)
        with ProcessPoolExecutor() as pool:
            found = pool.map(_count, todo, chunksize=16) if len(todo) > 64 else map(_count, todo)
            for p, n in zip(todo, found, strict=True):
                known[p.relative_to(corpora).as_posix()] = [p.stat().st_size, n]
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known, ensure_ascii=False))
    return {k: v[1] for k, v in known.items()}


def plan_corpus(corpora: Path, files: list[Path], counts: dict[str, int], target: int) -> list:
    """(copy, path relative to `corpora`) of the files making at least `target` paragraphs."""
    rels = [p.relative_to(corpora).as_posix() for p in files]
    if not any(counts.get(r, 0) for r in rels):
        raise SystemExit(f"no paragraphs in {corpora}")
    plan: list[tuple[int, str]] = []
    total, copy = 0, 0
    while total < target:
        for rel in rels:
            if counts.get(rel, 0):
                plan.append((copy, rel))
                total += counts[rel]
                if total >= target:
                    break
        copy += 1
    return plan


def make_corpus(corpora: Path, plan: list, dest: Path) -> Path:
    """The corpus folder for `plan` (made again only when the plan changed)."""
    stamp = dest.with_suffix(".plan.json")
    wanted = json.dumps([str(corpora), plan], ensure_ascii=False)
    if dest.exists() and stamp.exists() and stamp.read_text() == wanted:
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    for copy, rel in plan:
        target = dest / f"copy{copy}" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(corpora / rel, target)
    stamp.write_text(wanted)
    return dest


# --- measurements, each in its own process ------------------------------------------------


def _rss_mb() -> dict[str, float]:
    status = Path("/proc/self/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    kb = {k: int(fields[k].split()[0]) for k in ("VmRSS", "VmHWM") if k in fields}
    return {"rss_mb": kb.get("VmRSS", 0) / 1024, "peak_rss_mb": kb.get("VmHWM", 0) / 1024}


def role_build(db: Path, corpus: Path, workers: int | None) -> dict[str, Any]:
    from index.build import build_index

    started = time.perf_counter()
    report = build_index(db, [corpus], root=corpus, workers=workers)
    seconds = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "details": report.details,
        "paragraphs": report.paragraphs,
        "reports": report.reports,
        "skipped": len(report.skipped),
        "full": report.full,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_peak_rss_mb": children,
    }


def _paragraph_reader(db: Path) -> Any:
    from index import store

    conn = store.connect(db, create=False).conn

    def read(docnos: list[int]) -> list[tuple[Any, ...]]:
        marks = ",".join("?" * len(docnos))
        return conn.execute(
            "SELECT docno, id, report_id, no, section, kind, text FROM paragraphs "
            f"WHERE docno IN ({marks})",
            docnos,
        ).fetchall()

    return read


def role_serve(db: Path, questions: list[str], k: int, rounds: int) -> dict[str, Any]:
    from index.search import SearchIndex

    index = SearchIndex.open(db)
    read = _paragraph_reader(db)
    ids = {}

    def core(q: str) -> list[tuple[int, float]]:
        top = index.bm25_top(index.tokenizer.tokenize(q), k)
        rows = read([d for d, _ in top])
        ids.update((r[0], r[1]) for r in rows)
        return top

    tops = [core(q) for q in questions]  # also the warm-up
    for q in questions:
        index.search(q, top=k)
    core_ms: list[list[float]] = [[] for _ in questions]
    served_ms: list[list[float]] = [[] for _ in questions]
    for _ in range(rounds):
        for i, q in enumerate(questions):
            t0 = time.perf_counter()
            core(q)
            t1 = time.perf_counter()
            index.search(q, top=k)
            t2 = time.perf_counter()
            core_ms[i].append((t1 - t0) * 1000)
            served_ms[i].append((t2 - t1) * 1000)
    return {
        "core_ms": core_ms,
        "served_ms": served_ms,
        "tokens": [index.tokenizer.tokenize(q) for q in questions],
        "top": [[[d, s, ids.get(d)] for d, s in top] for top in tops],
        **_rss_mb(),
    }


def role_reference(db: Path, tokens: list[list[str]], ours: list[list[list[Any]]]) -> dict:
    import numpy as np
    from rank_bm25 import BM25Okapi

    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT docno, tokens FROM paragraphs ORDER BY docno").fetchall()
    conn.close()
    if [r[0] for r in rows] != list(range(1, len(rows) + 1)):
        raise SystemExit("docnos are not 1..N: run the reference on a fresh full build")
    corpus = [r[1].split() for r in rows]
    del rows
    t0 = time.perf_counter()
    ref = BM25Okapi(corpus)
    build_s = time.perf_counter() - t0
    out: dict[str, Any] = {"build_s": build_s, "ms": [], "top": [], "ours_ref_scores": []}
    for toks, mine in zip(tokens, ours, strict=True):
        t0 = time.perf_counter()
        scores = ref.get_scores(toks)
        out["ms"].append((time.perf_counter() - t0) * 1000)
        matched = np.flatnonzero(scores > 0)
        best = matched[np.lexsort((matched, -scores[matched]))][:10]
        out["top"].append([[int(i) + 1, float(scores[i])] for i in best])
        out["ours_ref_scores"].append([float(scores[d - 1]) for d, _, _ in mine])
    out.update(_rss_mb())
    return out


def _role(role: str, payload: dict[str, Any]) -> dict[str, Any]:
    db = Path(payload["db"])
    if role == "build":
        return role_build(db, Path(payload["corpus"]), payload.get("workers"))
    if role == "serve":
        return role_serve(db, payload["questions"], payload["k"], payload["rounds"])
    if role == "reference":
        return role_reference(db, payload["tokens"], payload["ours"])
    raise SystemExit(f"unknown role {role}")


def _run_role(role: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in a fresh Python process (or this one: `--in-process`)."""
    if IN_PROCESS:
        return json.loads(json.dumps(_role(role, payload), ensure_ascii=False))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.scale", "--role", role],
        input=json.dumps(payload, ensure_ascii=False),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{role} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _role_main() -> None:
    payload = json.loads(sys.stdin.read())
    out = _role(sys.argv[sys.argv.index("--role") + 1], payload)
    print(json.dumps(out, ensure_ascii=False))


def cold_start(db: Path, question: str, runs: int) -> list[float]:
    """Seconds from starting `reportbot ask` to its exit, `runs` times."""
    exe = Path(sys.executable).parent / "reportbot"
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(
            [str(exe), "ask", "--db", str(db), "--json", "--top", "10", question],
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        times.append(time.perf_counter() - t0)
    return times


# --- comparing answers ----------------------------------------------------------------------


def same_top(ours: list[float], ours_ref: list[float], ref: list[float], rtol: float) -> bool:
    """Our top k is rank-bm25's, ties aside: the reference scores of our documents are the
    reference's best scores, in order, and so are our own scores."""
    if len(ours) != len(ref):
        return False
    close = all(abs(a - b) <= rtol * max(abs(b), 1e-12) for a, b in zip(ours, ref, strict=True))
    return close and all(
        abs(a - b) <= rtol * max(abs(b), 1e-12) for a, b in zip(ours_ref, ref, strict=True)
    )


def same_answers(a: list[list[Any]], b: list[list[Any]], rtol: float = 1e-9) -> bool:
    """Two indexes' top k (docno, score, paragraph id) for one question: equal scores in order
    and the same paragraphs, up to the order of tied ones (docnos may differ)."""
    if len(a) != len(b):
        return False
    if any(abs(x[1] - y[1]) > rtol * max(abs(y[1]), 1e-12) for x, y in zip(a, b, strict=True)):
        return False
    if len(a) == 0:
        return True
    # outside the last (possibly cut) group of tied scores, the paragraphs must be the same
    last = b[-1][1]
    inner_a = {x[2] for x in a if abs(x[1] - last) > rtol * abs(last)}
    inner_b = {y[2] for y in b if abs(y[1] - last) > rtol * abs(last)}
    return inner_a == inner_b


def _pct(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


# --- incremental update ---------------------------------------------------------------------


def edit_report(path: Path) -> bytes:
    """Change one report file: one paragraph edited, one removed, one added. The old bytes."""
    old = path.read_bytes()
    lines = old.decode("utf-8").split("\n")
    body = [i for i, line in enumerate(lines) if len(line) > 40]
    lines[body[len(body) // 3]] += EDIT_TEXT
    del lines[body[len(body) // 2]]
    lines.append(ADDED_PARAGRAPH)
    path.write_text("\n".join(lines), encoding="utf-8")
    return old


def incremental(
    label: str, db: Path, corpus: Path, plan: list, questions: list[str], workers: int | None
) -> dict[str, Any]:
    report_file = next(corpus / f"copy{c}" / rel for c, rel in plan if STATUTES not in rel)
    old = edit_report(report_file)
    try:
        update = _run_role("build", {"db": str(db), "corpus": str(corpus), "workers": workers})
        fresh = db.with_name(f"{label}-fresh.db")
        _remove_db(fresh)
        rebuild = _run_role("build", {"db": str(fresh), "corpus": str(corpus), "workers": workers})
        payload = {"questions": [*questions, ADDED_PARAGRAPH, EDIT_TEXT], "k": 10, "rounds": 0}
        a = _run_role("serve", {"db": str(db), **payload})
        b = _run_role("serve", {"db": str(fresh), **payload})
        equal = [same_answers(x, y) for x, y in zip(a["top"], b["top"], strict=True)]
        meta_a, meta_b = _meta(db), _meta(fresh)
        _remove_db(fresh)
    finally:
        report_file.write_bytes(old)
    restore = _run_role("build", {"db": str(db), "corpus": str(corpus), "workers": workers})
    return {
        "file": report_file.relative_to(corpus).as_posix(),
        "update_s": update["seconds"],
        "update_full": update["full"],
        "restore_s": restore["seconds"],
        "rebuild_s": rebuild["seconds"],
        "questions_equal": sum(equal),
        "questions": len(equal),
        "stats_equal": all(
            abs(meta_a[k] - meta_b[k]) <= 1e-9 * max(abs(meta_b[k]), 1)
            for k in ("documents", "total_length", "mean_raw_idf")
        ),
    }


def _meta(db: Path) -> dict[str, float]:
    conn = sqlite3.connect(db)
    rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    conn.close()
    return {k: float(json.loads(rows[k])) for k in ("documents", "total_length", "mean_raw_idf")}


def _remove_db(db: Path) -> None:
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def _size_mb(db: Path) -> float:
    return sum(Path(f"{db}{s}").stat().st_size for s in ("", "-wal") if Path(f"{db}{s}").exists())


# --- one scale ------------------------------------------------------------------------------


def run_scale(label: str, target: int, args: argparse.Namespace, questions: list[str]) -> dict:
    out: Path = args.out
    files = corpus_files(args.corpora)
    counts = paragraph_counts(args.corpora, files, out / "paragraph-counts.json")
    plan = plan_corpus(args.corpora, files, counts, target)
    corpus = make_corpus(args.corpora, plan, out / "corpus" / label)
    db = out / f"{label}.db"
    _remove_db(db)
    load_before = os.getloadavg()[0]  # other work on the machine skews everything
    print(f"[{label}] building from {len(plan)} files …", file=sys.stderr)
    build = _run_role("build", {"db": str(db), "corpus": str(corpus), "workers": args.workers})
    size = _size_mb(db) / 2**20
    done = f"{build['paragraphs']} paragraphs in {build['seconds']:.1f} s"
    print(f"[{label}] {done}", file=sys.stderr)
    serve = _run_role(
        "serve", {"db": str(db), "questions": questions, "k": 10, "rounds": args.rounds}
    )
    core = [min(t) for t in serve["core_ms"]] if args.rounds else []
    core_all = [x for t in serve["core_ms"] for x in t]
    served_all = [x for t in serve["served_ms"] for x in t]
    cold = cold_start(db, questions[0], args.cold_runs) if args.cold_runs else [0.0]
    result: dict[str, Any] = {
        "label": label,
        "files": len(plan),
        "build": build,
        "index_mb": size,
        "core_p50_ms": _pct(core_all, 50) if core_all else None,
        "core_p99_ms": _pct(core_all, 99) if core_all else None,
        "served_p50_ms": _pct(served_all, 50) if served_all else None,
        "served_p99_ms": _pct(served_all, 99) if served_all else None,
        "cold_start_s": cold,
        "serving_rss_mb": serve["rss_mb"],
        "serving_peak_rss_mb": serve["peak_rss_mb"],
    }
    if not args.no_reference:
        every = 1
        if build["paragraphs"] > REFERENCE_MAX_PARAGRAPHS:
            every = max(1, len(questions) // REFERENCE_SUBSET)
        chosen = list(range(0, len(questions), every))
        print(f"[{label}] rank-bm25 on {len(chosen)} questions …", file=sys.stderr)
        ref = _run_role(
            "reference",
            {
                "db": str(db),
                "tokens": [serve["tokens"][i] for i in chosen],
                "ours": [serve["top"][i] for i in chosen],
            },
        )
        agree = [
            same_top(
                [s for _, s, _ in serve["top"][i]],
                ref["ours_ref_scores"][j],
                [s for _, s in ref["top"][j]],
                1e-9,
            )
            for j, i in enumerate(chosen)
        ]
        identical = [
            [d for d, _, _ in serve["top"][i]] == [d for d, _ in ref["top"][j]]
            for j, i in enumerate(chosen)
        ]
        ref_ms = ref["ms"]
        ours_ms = [core[i] for i in chosen] if core else []
        result["reference"] = {
            "questions": len(chosen),
            "build_s": ref["build_s"],
            "p50_ms": _pct(ref_ms, 50),
            "p99_ms": _pct(ref_ms, 99),
            "rss_mb": ref["rss_mb"],
            "agree": sum(agree),
            "identical_ids": sum(identical),
            "speedup_median": statistics.median(ref_ms) / statistics.median(ours_ms)
            if ours_ms
            else None,
            "speedup_min_per_question": min(r / o for r, o in zip(ref_ms, ours_ms, strict=True))
            if ours_ms
            else None,
        }
    if not args.no_incremental:
        print(f"[{label}] incremental update …", file=sys.stderr)
        result["incremental"] = incremental(label, db, corpus, plan, questions, args.workers)
    result["load_average"] = [load_before, os.getloadavg()[0]]
    return result


def machine() -> dict[str, Any]:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": round(int(mem) / 2**20, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def table(results: list[dict[str, Any]]) -> str:
    def f(x: float | None, fmt: str = ".1f") -> str:
        return "–" if x is None else format(x, fmt)

    head = (
        "| scale | paragraphs | build | build peak RSS (main / worker) | index size "
        "| query p50 / p99 (core) | served p50 / p99 | cold start | serving RSS "
        "| rank-bm25 p50 / p99 | speed-up (median) | top-10 agree | incremental update |"
    )
    lines = [head, "|" + "---|" * 13]
    for r in results:
        b, ref, inc = r["build"], r.get("reference"), r.get("incremental")
        cold = sorted(r["cold_start_s"])[len(r["cold_start_s"]) // 2]
        lines.append(
            f"| {r['label']} | {b['paragraphs']:,} | {b['seconds']:.1f} s "
            f"| {b['peak_rss_mb']:.0f} / {b['worker_peak_rss_mb']:.0f} MB "
            f"| {r['index_mb']:.0f} MB "
            f"| {f(r['core_p50_ms'], '.2f')} / {f(r['core_p99_ms'], '.2f')} ms "
            f"| {f(r['served_p50_ms'], '.2f')} / {f(r['served_p99_ms'], '.2f')} ms "
            f"| {cold:.2f} s | {r['serving_rss_mb']:.0f} MB "
            + (
                f"| {ref['p50_ms']:.0f} / {ref['p99_ms']:.0f} ms "
                f"| {f(ref['speedup_median'], '.0f')}× "
                f"| {ref['agree']}/{ref['questions']} "
                if ref
                else "| – | – | – "
            )
            + (
                f"| {inc['update_s']:.1f} s, {inc['questions_equal']}/{inc['questions']} "
                f"equal to rebuild |"
                if inc
                else "| – |"
            )
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    if "--role" in (argv if argv is not None else sys.argv):
        _role_main()
        return 0
    p = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__)
    p.add_argument("--scales", default="10k,100k,1M", help="comma-separated: 10k, 100k, 1M or N")
    p.add_argument("--questions", type=int, default=100, help="use the first N questions")
    p.add_argument("--rounds", type=int, default=3, help="timed rounds over the questions")
    p.add_argument("--out", type=Path, default=ROOT / "bench-out", help="where everything goes")
    p.add_argument("--corpora", type=Path, default=CORPORA, help="the source texts")
    p.add_argument("--cold-runs", type=int, default=5, help="cold starts to time")
    p.add_argument("--workers", type=int, default=None, help="build workers (default: CPUs)")
    p.add_argument("--no-reference", action="store_true", help="skip rank-bm25")
    p.add_argument(
        "--in-process", action="store_true", help="no fresh process per step (RSS meaningless)"
    )
    p.add_argument("--no-incremental", action="store_true", help="skip the incremental update")
    args = p.parse_args(argv)
    global IN_PROCESS
    IN_PROCESS = args.in_process
    if not args.corpora.is_dir():
        print(f"benchmark skipped: no corpora at {args.corpora} (see its README)", file=sys.stderr)
        return 0
    questions = [q for q in QUESTIONS.read_text(encoding="utf-8").splitlines() if q.strip()]
    questions = questions[: args.questions]
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for label in args.scales.split(","):
        target = SCALES.get(label) or int(label)
        results.append(run_scale(label, target, args, questions))
    given = list(argv) if argv is not None else sys.argv[1:]
    command = " ".join(["python -m benchmarks.scale", *given])
    info = {"machine": machine(), "command": command, "results": results}
    (args.out / "results.json").write_text(json.dumps(info, ensure_ascii=False, indent=1))
    m = info["machine"]
    print(f"machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gb']} GB RAM, Python {m['python']}")
    print(table(results))
    for r in results:
        inc = r.get("incremental")
        print(
            f"{r['label']}: load average {r['load_average'][0]:.1f}"
            f" -> {r['load_average'][1]:.1f}; "
            f"cold starts {', '.join(f'{x:.2f}' for x in r['cold_start_s'])} s"
            + (f"; full rebuild after the edit {inc['rebuild_s']:.1f} s" if inc else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
