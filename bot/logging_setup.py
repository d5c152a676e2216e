"""Logging for the entry points: one `configure_logging()` call sets level, format and redaction.

Records go to stderr as readable lines or as JSON lines (`REPORTBOT_LOG_FORMAT=json`), and every
line, exception tracebacks included, passes through a `Redactor` that replaces the bot token,
the webhook secret and anything shaped like a bot token with `[REDACTED]`: httpx, PTB at DEBUG
and network errors all print Bot API URLs, which contain the token. httpx/httpcore (a line per
request) and jieba (dictionary loading) are quieted to WARNING.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

REDACTED = "[REDACTED]"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET_LOGGERS = ("httpx", "httpcore", "jieba")
# <bot id>:<35 characters>, as @BotFather issues them; the known token is replaced in any case.
BOT_TOKEN_SHAPE = re.compile(r"(?<!\d)\d{5,}:[A-Za-z0-9_-]{30,}")
MIN_SECRET = 6  # shorter values would redact ordinary words


class Redactor:
    """Replaces the given secrets, and anything shaped like a bot token, with `[REDACTED]`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Redact this value too (longest first, so a secret containing another goes whole)."""
        if len(secret) >= MIN_SECRET and secret not in self.secrets:
            self.secrets = sorted([*self.secrets, secret], key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return BOT_TOKEN_SHAPE.sub(REDACTED, text)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message` (+ traceback), redacted."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__(TEXT_FORMAT)
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JSONFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message[, exception]."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # Secrets are [A-Za-z0-9:_-], which JSON never escapes: redacting the encoded line works.
        return self.redact(json.dumps(entry, ensure_ascii=False))


def configure_logging(
    level: int | str = logging.INFO,
    fmt: str = "text",
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send all logging to `stream` (stderr) at `level`, as `fmt` (text|json), redacting `secrets`.

    Replaces whatever was configured before (entry points call this once, `serve` again with
    its settings). Returns the handler it installed.
    """
    redact = Redactor(secrets)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JSONFormatter(redact) if fmt == "json" else TextFormatter(redact))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


def redact_also(secret: str) -> None:
    """Redact a secret made after `configure_logging` (a generated webhook secret) as well."""
    for handler in logging.getLogger().handlers:
        formatter = handler.formatter
        if isinstance(formatter, TextFormatter | JSONFormatter):
            formatter.redact.add(secret)
