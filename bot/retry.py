"""Requests to Telegram that fail on the network are tried again, with exponential backoff.

What python-telegram-bot 22 already does: the polling loop retries getUpdates after a
NetworkError (after 1 s, then 1.5 times longer each time, up to 30 s) and after TimedOut (at
once), forever; AIORateLimiter waits out a 429 (retry_after) and retries. Nothing retries a
sendMessage that met a dropped connection or a 502, so that answer would be lost.

`RetryingRateLimiter` is AIORateLimiter plus that: a request that failed in a way that means
Telegram did not act on it (the connection failed or was dropped, a 5xx, a connect or pool
timeout) is sent again after 0.5, 1, 2 and 4 seconds. A read timeout is not retried (the
message may have been sent already: a retry could post it twice), nor is any 4xx.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from telegram.error import BadRequest, NetworkError, TimedOut
from telegram.ext import AIORateLimiter

logger = logging.getLogger(__name__)

NETWORK_RETRIES = 4
BACKOFF = 0.5  # seconds before the first retry; doubled for each next one


def retryable(exc: Exception) -> bool:
    """Whether Telegram surely did not act on a request that failed with `exc`."""
    if isinstance(exc, BadRequest):  # a 400: the same request fails the same way
        return False
    if isinstance(exc, TimedOut):
        return isinstance(exc.__cause__, httpx.ConnectTimeout | httpx.PoolTimeout)
    return isinstance(exc, NetworkError)  # connection errors and 5xx


class RetryingRateLimiter(AIORateLimiter):
    """AIORateLimiter that also retries network failures (see the module docstring)."""

    def __init__(
        self,
        *,
        network_retries: int = NETWORK_RETRIES,
        backoff: float = BACKOFF,
        sleep: Callable[[float], Coroutine[Any, Any, None]] = asyncio.sleep,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.network_retries = network_retries
        self.backoff = backoff
        self._sleep = sleep

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        delay = self.backoff
        for attempt in range(self.network_retries + 1):
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except NetworkError as exc:
                if attempt == self.network_retries or not retryable(exc):
                    raise
                wait = delay * random.uniform(0.8, 1.2)  # spread out many retries at once
                logger.warning(
                    "%s failed (%s: %s); retry %d/%d in %.1f s",
                    endpoint,
                    type(exc).__name__,
                    exc,
                    attempt + 1,
                    self.network_retries,
                    wait,
                )
                await self._sleep(wait)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover
