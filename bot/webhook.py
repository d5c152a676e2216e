"""Webhook mode of `reportbot serve`: Telegram POSTs updates to us instead of being polled.

`run_webhook(settings)` checks the token, builds the same `Application` as long polling and runs
python-telegram-bot's webhook server on `webhook_listen:webhook_port`, at the path of
`webhook_url`, after registering that URL with Telegram (setWebhook) together with a secret
token. PTB answers 403 to a request whose X-Telegram-Bot-Api-Secret-Token header is missing or
wrong, so only Telegram can feed the bot. TLS is the reverse proxy's job (docs/deploy.md).
Stop signals (SIGTERM, SIGINT) let the answers in flight finish, as in polling.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
from urllib.parse import urlsplit

from telegram.error import InvalidToken, TelegramError

from bot.app import (
    ALLOWED_UPDATES,
    REJECTED_TOKEN,
    BotStartupError,
    build_application,
    check_token,
)
from bot.logging_setup import redact_also
from bot.settings import Settings
from bot.state import IndexOpener, open_search_index

logger = logging.getLogger(__name__)

SECRET_BYTES = 32  # a generated secret token: 43 URL-safe characters


def url_path(webhook_url: str) -> str:
    """The path the local server listens on: the public URL's path (the proxy keeps it)."""
    return urlsplit(webhook_url).path.strip("/")


def secret_token(settings: Settings) -> str:
    """The configured secret token, or a new random one (logged as generated, never shown)."""
    if settings.webhook_secret:
        return settings.webhook_secret
    secret = secrets.token_urlsafe(SECRET_BYTES)
    redact_also(secret)
    logger.info(
        "REPORTBOT_WEBHOOK_SECRET is not set: generated a random webhook secret token for this "
        "run (Telegram receives it with setWebhook; it is not logged)"
    )
    return secret


def run_webhook(settings: Settings, *, index_opener: IndexOpener = open_search_index) -> int:
    """`reportbot serve --webhook-url`: serve webhook requests until SIGTERM; the exit code.

    Startup problems (token missing or rejected, Bot API unreachable, Telegram refusing the
    webhook URL, the port taken) are a one-paragraph message on stderr and exit code 2.
    """
    if not settings.webhook_url:
        raise ValueError("run_webhook needs settings.webhook_url")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    where = f"{settings.webhook_listen}:{settings.webhook_port}"
    try:
        username = loop.run_until_complete(check_token(settings))
        secret = secret_token(settings)
        path = url_path(settings.webhook_url)
        logger.info(
            "starting @%s (webhook %s, listening on %s/%s)",
            username,
            settings.webhook_url,
            where,
            path,
        )
        application = build_application(settings, index_opener=index_opener)
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=path,
            webhook_url=settings.webhook_url,
            secret_token=secret,
            allowed_updates=list(ALLOWED_UPDATES),
            close_loop=True,
        )
    except InvalidToken:  # revoked between the check and setWebhook
        return _failed(REJECTED_TOKEN)
    except BotStartupError as exc:
        return _failed(str(exc))
    except TelegramError as exc:  # setWebhook refused: not https, a port Telegram won't use...
        return _failed(
            f"Telegram refused the webhook URL {settings.webhook_url} ({exc}). It must be a "
            "public https:// URL on port 443, 80, 88 or 8443 (see docs/deploy.md)."
        )
    except OSError as exc:  # the port is taken or the address is not ours
        return _failed(
            f"Cannot listen on {where} ({exc}). Choose another --port / REPORTBOT_WEBHOOK_PORT "
            "or --listen / REPORTBOT_WEBHOOK_LISTEN."
        )
    finally:
        if not loop.is_closed():
            loop.close()
        asyncio.set_event_loop(None)
    return 0


def _failed(message: str) -> int:
    print(f"Error: {message}", file=sys.stderr)
    return 2
