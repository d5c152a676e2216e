"""The bot's configuration: one frozen `Settings`, read from environment variables.

Every variable has a default and a line of help in `SETTINGS_HELP`, so the docs can list them
(and a test can check that they do). Secrets never appear in `repr(settings)`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_DIR / "data"


@dataclass(frozen=True)
class SettingHelp:
    """One environment variable: its name, its default as shown in docs, and what it does."""

    name: str
    default: str
    help: str


SETTINGS_HELP: tuple[SettingHelp, ...] = (
    SettingHelp(
        "TELEGRAM_BOT_TOKEN",
        "(none)",
        "Bot token from @BotFather. Needed by `reportbot serve`; without it `make run` starts "
        "the terminal chat instead.",
    ),
    SettingHelp(
        "TELEGRAM_API_BASE_URL",
        "(Telegram's)",
        "Bot API base URL ending in /bot, e.g. http://127.0.0.1:8081/bot for a local Bot API "
        "server (the tests point it at their stand-in). Files are fetched from the same host "
        "under /file/bot.",
    ),
    SettingHelp(
        "REPORTBOT_DB",
        "data/reportbot.db",
        "The index file (SQLite) built by `reportbot index build`. The default is under the "
        "project's data/ folder; a relative path is taken from the current directory.",
    ),
    SettingHelp(
        "REPORTBOT_REPORTS_DIR",
        "data/reports/",
        "The folder of report files (.txt, .docx, .pdf) the index is built from "
        "(default: the project's data/reports/).",
    ),
    SettingHelp(
        "REPORTBOT_ADMINS",
        "(none)",
        "Comma-separated Telegram user ids allowed to run admin commands (/reindex, uploads).",
    ),
    SettingHelp(
        "REPORTBOT_POLL_TIMEOUT",
        "30",
        "Seconds one getUpdates long poll waits for new messages before asking again.",
    ),
)


def _int(environ: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")
    return value


def _admins(raw: str) -> frozenset[int]:
    ids: set[int] = set()
    for part in raw.replace(" ", "").split(","):
        if not part:
            continue
        if not part.lstrip("-").isdigit():
            raise ValueError(
                f"REPORTBOT_ADMINS must list numeric Telegram user ids, not {part!r} "
                "(a user can see theirs with @userinfobot)"
            )
        ids.add(int(part))
    return frozenset(ids)


def _path(environ: Mapping[str, str], name: str, default: Path) -> Path:
    raw = environ.get(name, "").strip()
    return Path(raw).expanduser() if raw else default


@dataclass(frozen=True)
class Settings:
    """Everything the bot reads from its environment; see `SETTINGS_HELP`."""

    token: str = field(default="", repr=False)
    api_base_url: str = ""
    db_path: Path = DATA_DIR / "reportbot.db"
    reports_dir: Path = DATA_DIR / "reports"
    admins: frozenset[int] = frozenset()
    poll_timeout: int = 30

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Read the settings; raises ValueError naming the variable when one is malformed."""
        base_url = environ.get("TELEGRAM_API_BASE_URL", "").strip()
        if base_url and not base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"TELEGRAM_API_BASE_URL must start with http:// or https://, not {base_url!r}"
            )
        return cls(
            token=environ.get("TELEGRAM_BOT_TOKEN", "").strip(),
            api_base_url=base_url,
            db_path=_path(environ, "REPORTBOT_DB", cls.db_path),
            reports_dir=_path(environ, "REPORTBOT_REPORTS_DIR", cls.reports_dir),
            admins=_admins(environ.get("REPORTBOT_ADMINS", "")),
            poll_timeout=_int(environ, "REPORTBOT_POLL_TIMEOUT", cls.poll_timeout),
        )

    @property
    def api_file_url(self) -> str:
        """The file download base matching `api_base_url` (…/bot -> …/file/bot); "" if unset."""
        if not self.api_base_url:
            return ""
        base = self.api_base_url.rstrip("/")
        if base.endswith("/bot"):
            return base[: -len("/bot")] + "/file/bot"
        return base + "/file/bot"
