"""The layout rules and the docs hold: index/ stands alone, the README's commands exist and run."""

from __future__ import annotations

import ast
import sqlite3
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_index_never_imports_telegram_or_bot() -> None:
    for path in sorted((ROOT / "index").glob("*.py")):
        bad = imported_modules(path) & {"telegram", "bot"}
        assert not bad, f"{path.name} imports {bad}"


def test_importing_the_search_core_loads_no_telegram() -> None:
    code = (
        "import sys, index.search, index.build, index.watch, index.library\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('telegram', 'bot')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "[]"


def all_commands() -> list[str]:
    names = []
    for name, command in cli.commands.items():
        sub = getattr(command, "commands", None)
        names += [f"{name} {s}" for s in sub] if sub else [name]
    return names


def test_readme_documents_every_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in all_commands():
        assert f"reportbot {command}" in readme, f"README.md does not mention {command!r}"


def test_readme_quick_start_is_the_two_make_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "make run" in quick and "make test" in quick
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "\nrun:" in makefile and "\ntest:" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_example_answer_is_what_chat_prints(sample_db: Path, tmp_path: Path) -> None:
    """The README's terminal example: its first answer line is what `chat` prints today."""
    db = tmp_path / "copy.db"
    with sqlite3.connect(sample_db) as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = readme.split("$ echo ", 1)[1]
    question = example.split(" |", 1)[0]
    first_answer = next(line for line in example.splitlines() if line.startswith("①"))
    result = CliRunner().invoke(
        cli,
        ["chat", "--db", str(db)],
        input=question + "\n",
        env={"REPORTBOT_REPORTS_DIR": str(ROOT / "data" / "reports")},
    )
    assert result.exit_code == 0, result.output
    assert first_answer in result.output
