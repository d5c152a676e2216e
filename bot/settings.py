"""The bot's configuration: one frozen `Settings`, read from environment variables.

Every variable has a default and a line of help in `SETTINGS_HELP`, so the docs can list them
(and a test can check that they do). Secrets never appear in `repr(settings)`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

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
    # --- deployment: webhook mode and logging (issue 7; see docs/deploy.md) ---------------
    SettingHelp(
        "REPORTBOT_WEBHOOK_URL",
        "(none: long polling)",
        "Public HTTPS URL Telegram posts updates to, e.g. https://bot.example.org/telegram; "
        "when set, `reportbot serve` runs a webhook server instead of long polling "
        "(same as --webhook-url). Its path is the path the server listens on.",
    ),
    SettingHelp(
        "REPORTBOT_WEBHOOK_LISTEN",
        "127.0.0.1",
        "Address the webhook server binds (--listen): 127.0.0.1 behind a reverse proxy on the "
        "same host, 0.0.0.0 in a container.",
    ),
    SettingHelp(
        "REPORTBOT_WEBHOOK_PORT",
        "8080",
        "Port the webhook server listens on (--port); the reverse proxy forwards to it.",
    ),
    SettingHelp(
        "REPORTBOT_WEBHOOK_SECRET",
        "(random per start)",
        "Secret token Telegram sends in the X-Telegram-Bot-Api-Secret-Token header of every "
        "webhook request; requests without it get 403. 1-256 characters from A-Z a-z 0-9 _ -. "
        "When unset a random one is generated at each start (and never logged).",
    ),
    SettingHelp(
        "REPORTBOT_LOG_LEVEL",
        "INFO",
        "Log level of `reportbot serve`: DEBUG, INFO, WARNING, ERROR or CRITICAL. The bot token "
        "and the webhook secret are redacted from every log line.",
    ),
    SettingHelp(
        "REPORTBOT_LOG_FORMAT",
        "text",
        "`text` (one readable line per record) or `json` (one JSON object per line, for log "
        "collectors) for `reportbot serve`.",
    ),
    # --- abuse limits (issue 8; bot/guard.py) -----------------------------------------------
    SettingHelp(
        "REPORTBOT_RATE_LIMIT",
        "20",
        "Questions (messages, button presses) one user may send per minute; beyond it the bot "
        "says once, politely, when to try again, and ignores the rest of the minute. Inline "
        "queries, sent as the user types, get three times as many. Admins are not limited. "
        "0 turns the limit off.",
    ),
    SettingHelp(
        "REPORTBOT_ALLOWED_USERS",
        "(anyone)",
        "Comma-separated Telegram user ids who may use the bot anywhere. When this or "
        "REPORTBOT_ALLOWED_CHATS is set, everyone else is politely refused (messages, buttons "
        "and inline queries); admins are always allowed.",
    ),
    SettingHelp(
        "REPORTBOT_ALLOWED_CHATS",
        "(any)",
        "Comma-separated chat ids (groups are negative, e.g. -1001234567890) in which anyone "
        "may use the bot. See REPORTBOT_ALLOWED_USERS.",
    ),
    SettingHelp(
        "REPORTBOT_MAX_UPLOAD_MB",
        "20",
        "Largest report file, in MB, an admin may upload to the bot; a bigger one is refused "
        "before it is downloaded (the Telegram Bot API serves at most 20 MB).",
    ),
)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


def check_webhook_url(url: str, name: str = "REPORTBOT_WEBHOOK_URL") -> str:
    """The URL, or ValueError: Telegram needs an absolute http(s) URL (https in production)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name} must be an https:// URL, not {url!r}")
    return url


def check_secret_token(secret: str, name: str = "REPORTBOT_WEBHOOK_SECRET") -> str:
    """The secret, or ValueError when Telegram would refuse it (1-256 of A-Z a-z 0-9 _ -)."""
    if not _SECRET_TOKEN.fullmatch(secret):
        raise ValueError(
            f"{name} must be 1-256 characters from A-Z, a-z, 0-9, _ and - "
            "(e.g. the output of `openssl rand -hex 32`)"
        )
    return secret


def _choice(environ: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    value = raw.upper() if choices == LOG_LEVELS else raw.lower()
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return value


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


def _ids(environ: Mapping[str, str], name: str, what: str) -> frozenset[int]:
    """A comma-separated list of numeric Telegram ids."""
    ids: set[int] = set()
    for part in environ.get(name, "").replace(" ", "").split(","):
        if not part:
            continue
        if not part.lstrip("-").isdigit():
            raise ValueError(f"{name} must list numeric Telegram {what} ids, not {part!r}")
        ids.add(int(part))
    return frozenset(ids)


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    port = _int(environ, name, default)
    if port > 65535:
        raise ValueError(f"{name} must be a TCP port (1-65535), not {port}")
    return port


def _webhook_url(raw: str) -> str:
    return check_webhook_url(raw) if raw else ""


def _secret(raw: str) -> str:
    return check_secret_token(raw) if raw else ""


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
    webhook_url: str = ""  # empty: long polling
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8080
    webhook_secret: str = field(default="", repr=False)  # empty: generated at start
    log_level: str = "INFO"
    log_format: str = "text"
    rate_limit: int = 20  # questions per user per minute; 0: no limit
    allowed_users: frozenset[int] = frozenset()  # empty (and no allowed_chats): anyone
    allowed_chats: frozenset[int] = frozenset()
    max_upload_mb: int = 20

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
            webhook_url=_webhook_url(environ.get("REPORTBOT_WEBHOOK_URL", "").strip()),
            webhook_listen=environ.get("REPORTBOT_WEBHOOK_LISTEN", "").strip()
            or cls.webhook_listen,
            webhook_port=_port(environ, "REPORTBOT_WEBHOOK_PORT", cls.webhook_port),
            webhook_secret=_secret(environ.get("REPORTBOT_WEBHOOK_SECRET", "").strip()),
            log_level=_choice(environ, "REPORTBOT_LOG_LEVEL", cls.log_level, LOG_LEVELS),
            log_format=_choice(environ, "REPORTBOT_LOG_FORMAT", cls.log_format, LOG_FORMATS),
            rate_limit=_int(environ, "REPORTBOT_RATE_LIMIT", cls.rate_limit, minimum=0),
            allowed_users=_ids(environ, "REPORTBOT_ALLOWED_USERS", "user"),
            allowed_chats=_ids(environ, "REPORTBOT_ALLOWED_CHATS", "chat"),
            max_upload_mb=_int(environ, "REPORTBOT_MAX_UPLOAD_MB", cls.max_upload_mb),
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
