"""Running the real bot `Application` in a test: what `run_polling` does, minus signal handling
and blocking. Shared by the end-to-end, admin and hardening tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.app import ALLOWED_UPDATES, BotApplication, build_application
from bot.settings import Settings


async def start_bot(
    settings: Settings, opener: Callable[[Path], Any] | None = None
) -> BotApplication:
    """Build the application (over `opener`'s index when given) and start polling."""
    app = (
        build_application(settings)
        if opener is None
        else build_application(settings, index_opener=opener)
    )
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    assert app.updater is not None
    await app.updater.start_polling(
        timeout=settings.poll_timeout, allowed_updates=list(ALLOWED_UPDATES)
    )
    await app.start()
    return app


async def stop_bot(app: BotApplication) -> None:
    """Stop polling and shut down, as `run_polling` does on a stop signal."""
    assert app.updater is not None
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    assert app.post_shutdown is not None
    await app.post_shutdown(app)
