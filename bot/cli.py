"""The `reportbot` console script: a thin click layer over `index` (and the bot for `serve`)."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from bot.question import MAX_QUESTION, clean_question
from bot.settings import Settings
from index.build import BuildInProgress, BuildReport, build_index
from index.models import SECTION_KINDS, Hit
from index.search import Filters, SearchIndex, SearchResult
from index.store import IndexUnavailable, advice, unavailable

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
    except sqlite3.Error as exc:  # e.g. the disk filled up: the transaction was rolled back
        raise click.ClickException(
            f"the build failed and left the previous index at {db} as it was ({exc}): "
            + advice(exc)
        ) from exc
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
    except sqlite3.DatabaseError:
        return True
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


@index_group.command("watch")
@click.argument(
    "folder", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@db_option
@click.option(
    "--settle",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0.05, 600),
    help="Seconds without a new change before the index is updated.",
)
def index_watch(folder: Path | None, db: Path | None, settle: float) -> None:
    """Keep the index current: update it whenever files in FOLDER (default: the reports folder)
    change, logging what changed. Stop with Ctrl-C."""
    from index.library import Library
    from index.watch import watch

    folder = folder if folder is not None else _report_paths(())[1]
    assert folder is not None
    for name in ("index.watch", "index.library"):  # what changed is this command's output
        if not logging.getLogger(name).isEnabledFor(logging.INFO):
            logging.getLogger(name).setLevel(logging.INFO)
    try:
        watch(Library(folder, _db_path(db)), settle=settle)
    except KeyboardInterrupt:  # Ctrl-C during a build: it was rolled back
        pass
    except (FileNotFoundError, IndexUnavailable) as exc:
        raise click.ClickException(str(exc)) from exc


def _tolerant_stdin() -> None:
    """A byte that is not UTF-8 on stdin becomes a surrogate (which `clean_question` drops)
    instead of a UnicodeDecodeError that ends the run."""
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="surrogateescape")


def _questions(question: str | None) -> Iterator[str]:
    """The question, or each line of stdin; cleaned as the bot cleans them (bot/question.py)."""
    if question is None:
        _tolerant_stdin()
    lines = [question] if question is not None else (line.rstrip("\n") for line in sys.stdin)
    for line in lines:
        cleaned, cut = clean_question(line)
        if cut:
            click.echo(f"note: question cut to its first {MAX_QUESTION} characters", err=True)
        yield cleaned


def _answering(
    db: Path, search: Callable[..., SearchResult], *args: Any, **kwargs: Any
) -> SearchResult:
    """search(*args, **kwargs), with an SQLite error (a damaged or locked index) as one line."""
    try:
        return search(*args, **kwargs)
    except sqlite3.DatabaseError as exc:
        raise click.ClickException(str(unavailable(db, exc))) from exc


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
    path = _db_path(db)
    index = open_index(path)
    try:
        for q in _questions(question):
            result = _answering(
                path, index.search, q, top=top, filters=filters or None, explain=explain
            )
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
    _tolerant_stdin()
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
            q, cut = clean_question(line)
            if not q:
                continue
            if cut:
                click.echo(f"（问题太长，只按前 {MAX_QUESTION} 个字搜索。）")
            try:
                click.echo(answer_plain(_answering(path, index.search, q, top=3)))
            except click.ClickException as exc:  # say it, and keep chatting
                click.echo(f"Error: {exc.message}", err=True)
            click.echo("")
    except KeyboardInterrupt:
        pass
    finally:
        index.close()


class ConfigError(click.ClickException):
    """`serve` cannot start as configured: exit code 2, which the service managers don't retry."""

    exit_code = 2


@cli.command("serve")
@click.option(
    "--webhook-url",
    metavar="URL",
    help="Receive updates by webhook at this public https:// URL instead of long polling "
    "(default: $REPORTBOT_WEBHOOK_URL).",
)
@click.option(
    "--listen",
    metavar="ADDR",
    help="Address the webhook server binds (default: $REPORTBOT_WEBHOOK_LISTEN, else 127.0.0.1).",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help="Port of the webhook server (default: $REPORTBOT_WEBHOOK_PORT, else 8080).",
)
@click.option(
    "--secret-token",
    metavar="TOKEN",
    help="Webhook secret token (default: $REPORTBOT_WEBHOOK_SECRET, else random at each start; "
    "prefer the variable: arguments show in `ps`).",
)
def serve(
    webhook_url: str | None, listen: str | None, port: int | None, secret_token: str | None
) -> None:
    """Run the Telegram bot: long polling, or a webhook server with --webhook-url.

    TELEGRAM_BOT_TOKEN must be set. SIGTERM or Ctrl-C finishes the answers in flight and exits.
    """
    from bot.logging_setup import configure_logging

    settings = _serve_settings(webhook_url, listen, port, secret_token)
    if not settings.token:
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN is not set: get a token from @BotFather and export it"
        )
    configure_logging(
        settings.log_level,
        settings.log_format,
        secrets=(settings.token, settings.webhook_secret),
    )
    if settings.webhook_url:
        from bot.webhook import run_webhook

        code = run_webhook(settings)
    else:
        from bot.app import run_polling

        code = run_polling(settings)
    sys.exit(code or 0)


def _serve_settings(
    webhook_url: str | None, listen: str | None, port: int | None, secret_token: str | None
) -> Settings:
    """The settings from the environment, with `serve`'s options taking precedence."""
    from dataclasses import replace

    from bot.settings import check_secret_token, check_webhook_url

    try:
        settings = Settings.from_env()
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    try:
        if webhook_url is not None:
            url = check_webhook_url(webhook_url, "--webhook-url")
            settings = replace(settings, webhook_url=url)
        if secret_token is not None:
            secret = check_secret_token(secret_token, "--secret-token")
            settings = replace(settings, webhook_secret=secret)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if listen is not None:
        settings = replace(settings, webhook_listen=listen)
    if port is not None:
        settings = replace(settings, webhook_port=port)
    return settings


@cli.command("health")
@db_option
def health(db: Path | None) -> None:
    """Exit 0 when the index opens and answers a test query; else 1, with the reason on stderr.

    For container healthchecks and monitoring; quick, and it never contacts Telegram.
    """
    from bot.health import Unhealthy, check_index

    try:
        report = check_index(_db_path(db))
    except Unhealthy as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(report.describe())


def main() -> None:
    cli(prog_name="reportbot")
