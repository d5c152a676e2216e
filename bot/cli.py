"""The `reportbot` console script: a thin click layer over `index` (and the bot for `serve`)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from bot.settings import Settings
from index.build import BuildInProgress, BuildReport, build_index
from index.models import SECTION_KINDS, Hit
from index.search import Filters, SearchIndex, SearchResult
from index.store import IndexUnavailable

logger = logging.getLogger(__name__)

db_option = click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Index file (default: $REPORTBOT_DB, else data/reportbot.db).",
)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


def _db_path(db: Path | None) -> Path:
    return db if db is not None else _settings().db_path


def _report_paths(paths: tuple[Path, ...]) -> tuple[list[Path], Path | None]:
    """Paths to index and the root that sources are named relative to."""
    if paths:
        dirs = [p for p in paths if p.is_dir()]
        return list(paths), dirs[0] if len(dirs) == 1 and len(paths) == 1 else None
    reports_dir = _settings().reports_dir
    if not reports_dir.exists():
        raise click.ClickException(
            f"no reports folder at {reports_dir}: give paths to index or set REPORTBOT_REPORTS_DIR"
        )
    return [reports_dir], reports_dir


class _ProgressBar:
    """A tqdm bar per build stage, only when stderr is a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.bar: Any = None
        self.stage = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=total, desc=stage, unit=" items", leave=False)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run_build(db: Path, paths: tuple[Path, ...] = (), *, full: bool = False) -> BuildReport:
    targets, root = _report_paths(paths)
    bar = _ProgressBar()
    try:
        return build_index(db, targets, root=root, full=full, progress=bar)
    except BuildInProgress as exc:
        raise click.ClickException(f"{exc}; wait for it to finish and try again") from exc
    except IndexUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        bar.close()


def describe_build(report: BuildReport) -> str:
    lines = [
        f"{report.reports} reports, {report.paragraphs} paragraphs indexed in "
        f"{report.seconds:.1f} s ({'full rebuild' if report.full else 'incremental update'})",
        f"files: {len(report.added)} added, {len(report.changed)} changed, "
        f"{len(report.removed)} removed, {len(report.unchanged)} unchanged, "
        f"{len(report.skipped)} skipped",
    ]
    lines += [f"  skipped {s.path}: {s.reason}" for s in report.skipped]
    return "\n".join(lines)


def open_index(db: Path, *, build_if_missing: bool = True) -> SearchIndex:
    """Open the index, building it from the reports folder first when there is none yet."""
    try:
        return SearchIndex.open(db)
    except IndexUnavailable as exc:
        if not build_if_missing or (db.exists() and _has_build(db)):
            raise click.ClickException(str(exc)) from exc
    click.echo(f"No index at {db} yet: building it from the reports folder…", err=True)
    click.echo(describe_build(run_build(db)), err=True)
    try:
        return SearchIndex.open(db)
    except IndexUnavailable as exc:
        raise click.ClickException(str(exc)) from exc


def _has_build(db: Path) -> bool:
    from index import store

    try:
        conn = store.connect(db, create=False)
    except IndexUnavailable:
        return True  # exists but unusable: say so instead of overwriting it
    try:
        return "generation" in store.get_meta(conn)
    finally:
        conn.close()


# --- JSON -----------------------------------------------------------------------------------


def section_label(section: tuple[str, ...]) -> str:
    return " > ".join(section)


def hit_json(hit: Hit, explain: bool = False) -> dict[str, Any]:
    p, r = hit.paragraph, hit.report
    out = {
        "rank": hit.rank,
        "score": round(hit.score, 6),
        "report_id": r.id,
        "report": r.title,
        "agency": r.agency,
        "section": section_label(p.section),
        "section_kind": p.kind,
        "paragraph_no": p.no,
        "paragraph_id": p.id,
        "text": p.text,
        "source": r.source,
        "also_in": [
            {"report_id": o.id, "report": o.title, "agency": o.agency} for o in hit.also_in
        ],
    }
    if explain:
        out["explain"] = list(hit.explain)
    return out


def result_json(result: SearchResult, explain: bool = False) -> dict[str, Any]:
    return {
        "question": result.question,
        "results": [hit_json(h, explain) for h in result.hits],
    }


# --- commands -------------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log more detail to stderr.")
def cli(verbose: bool) -> None:
    """Ask questions of Chinese government work reports; get cited paragraphs back."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@cli.group("index")
def index_group() -> None:
    """Build and inspect the search index."""


@index_group.command("build")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@db_option
@click.option("--full", is_flag=True, help="Rebuild from scratch instead of updating.")
def index_build(paths: tuple[Path, ...], db: Path | None, full: bool) -> None:
    """Build or update the index from PATHS (files or folders; default: the reports folder)."""
    report = run_build(_db_path(db), paths, full=full)
    click.echo(describe_build(report))


@index_group.command("status")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def index_status(db: Path | None, as_json: bool) -> None:
    """Show what the index holds."""
    index = open_index(_db_path(db), build_if_missing=False)
    try:
        stats = index.stats()
        reports = index.reports()
    finally:
        index.close()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "reports": [
                        {
                            "id": r.id,
                            "title": r.title,
                            "agency": r.agency,
                            "paragraphs": r.paragraphs,
                            "source": r.source,
                            "years": list(r.years),
                        }
                        for r in reports
                    ],
                    "paragraphs": stats.paragraphs,
                    "built_at": stats.built_at,
                },
                ensure_ascii=False,
            )
        )
        return
    click.echo(f"{stats.reports} reports, {stats.paragraphs} paragraphs; built {stats.built_at}")
    for r in reports:
        agency = f"{r.agency} · " if r.agency else ""
        click.echo(f"  {r.id}  {agency}{r.title}  ({r.paragraphs} ¶, {r.source})")


def _questions(question: str | None) -> Iterator[str]:
    if question is not None:
        yield question
        return
    for line in sys.stdin:
        yield line.rstrip("\n")


@cli.command("ask")
@click.argument("question", required=False)
@click.option(
    "--top",
    default=3,
    show_default=True,
    type=click.IntRange(1, 100),
    help="How many paragraphs to return.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per question (reads questions from stdin without QUESTION).",
)
@click.option("--agency", help="Only reports whose agency or title contains this.")
@click.option("--kind", type=click.Choice(SECTION_KINDS), help="Only this kind of section.")
@click.option("--year", type=int, help="Only reports about this year.")
@click.option("--report", "report_id", help="Only this report (id from `index status`).")
@click.option("--explain", is_flag=True, help="Show why each paragraph ranked where it did.")
@db_option
def ask(
    question: str | None,
    top: int,
    as_json: bool,
    agency: str | None,
    kind: str | None,
    year: int | None,
    report_id: str | None,
    explain: bool,
    db: Path | None,
) -> None:
    """Answer QUESTION with the best-matching paragraphs (or each line of stdin)."""
    filters = Filters(agency=agency, kind=kind, year=year, report_id=report_id)  # type: ignore[arg-type]
    index = open_index(_db_path(db))
    try:
        for q in _questions(question):
            result = index.search(q, top=top, filters=filters or None, explain=explain)
            if as_json:
                click.echo(json.dumps(result_json(result, explain), ensure_ascii=False))
                sys.stdout.flush()
                continue
            from bot.render import answer_plain

            click.echo(answer_plain(result))
            if explain:
                for hit in result.hits:
                    click.echo(f"#{hit.rank} {hit.paragraph.id}")
                    for line in hit.explain:
                        click.echo(f"    {line}")
    finally:
        index.close()


@cli.command("chat")
@db_option
def chat(db: Path | None) -> None:
    """Chat in the terminal with the answers the bot gives; ends at the end of input."""
    from bot.render import answer_plain

    path = _db_path(db)
    if path.exists():
        report = run_build(path)  # pick up added or changed reports; quick when none changed
        if report.changed_anything:
            click.echo(describe_build(report), err=True)
    index = open_index(path)
    interactive = sys.stdin.isatty()
    if interactive:
        stats = index.stats()
        click.echo(
            f"reportbot: {stats.reports} 篇报告，{stats.paragraphs} 个段落。"
            "输入问题，回车提问；Ctrl-D 退出。"
        )
    try:
        while True:
            try:
                line = input("问> " if interactive else "")
            except EOFError:
                break
            q = line.strip()
            if not q:
                continue
            click.echo(answer_plain(index.search(q, top=3)))
            click.echo("")
    except KeyboardInterrupt:
        pass
    finally:
        index.close()


@cli.command("serve")
def serve() -> None:
    """Run the Telegram bot (long polling; TELEGRAM_BOT_TOKEN must be set)."""
    from bot.app import run_polling

    settings = _settings()
    if not settings.token:
        raise click.ClickException(
            "TELEGRAM_BOT_TOKEN is not set: get a token from @BotFather and export it"
        )
    code = run_polling(settings)
    sys.exit(code or 0)


def main() -> None:
    cli(prog_name="reportbot")
