"""A local stand-in for the Telegram Bot API, over real HTTP, for end-to-end bot tests.

`BotAPIServer` serves `/bot<TOKEN>/<method>` (and `/file/bot<TOKEN>/<path>` downloads) from a
stdlib `ThreadingHTTPServer` in a thread. Point the real `Application` at it with
TELEGRAM_API_BASE_URL=`server.base_url` and it polls, sends and edits as against Telegram:

- getUpdates long-polls a queue the test feeds (`private_text`, `group_text`, `press`,
  `inline`, or `push` for any update);
- every call is recorded with its decoded parameters (`calls`, `calls_to`);
- it enforces the rules Telegram enforces and the bot must respect: HTML must parse (tags from
  the allowed set, properly nested, entities escaped), text ≤ 4096 characters after parsing,
  callback data 1-64 bytes, replies to existing messages, each callback query answered once;
  a violation is a 400 like Telegram's, and is kept in `rejected`;
- a wrong token gets 401 (PTB raises InvalidToken); `fail_next(method, ...)` answers a method
  with an error once, e.g. 429 with retry_after; `drop_next(method)` hangs up instead.

Only the methods the bot uses are implemented; anything else is a 404 (and recorded).
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import html
import itertools
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "123456:TEST-token-for-the-stand-in"
BOT_USER = {
    "id": 123456,
    "is_bot": True,
    "first_name": "报告助手",
    "username": "reportbot_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": True,
}
ALICE = {"id": 1001, "is_bot": False, "first_name": "Alice", "username": "alice"}
BOB = {"id": 1002, "is_bot": False, "first_name": "小明"}
GROUP = {"id": -100555, "type": "supergroup", "title": "报告学习群"}

MAX_TEXT = 4096
MAX_CALLBACK_BYTES = 64

# Parameters that arrive as plain strings; every other one is JSON-encoded by the client.
_STRING_PARAMS = {
    "text", "caption", "query", "callback_query_id", "inline_query_id", "action", "parse_mode",
    "description", "title", "next_offset", "url", "file_id", "language_code", "name",
    "short_description", "emoji", "secret_token", "switch_pm_text", "switch_pm_parameter",
}  # fmt: skip


# --- Telegram's HTML, as its parser accepts it ---------------------------------------------------

ALLOWED_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "tg-emoji", "code", "pre", "blockquote",
}  # fmt: skip
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_TOKEN = re.compile(
    r"<(?P<close>/?)(?P<tag>[a-zA-Z][\w-]*)(?P<attrs>[^<>]*)>"
    r"|&(?P<entity>#\d+|#[xX][0-9a-fA-F]+|[a-zA-Z]+);"
    r"|(?P<bare>[<>&])"
    r"|(?P<text>[^<>&]+)"
)


class HTMLError(ValueError):
    """Text Telegram would refuse with "can't parse entities"."""


def parse_html(text: str) -> str:
    """The visible text of a Telegram HTML message; HTMLError if Telegram would reject it."""
    out: list[str] = []
    stack: list[str] = []
    for m in _HTML_TOKEN.finditer(text):
        if m.group("text") is not None:
            out.append(m.group("text"))
        elif m.group("bare") is not None:
            raise HTMLError(f"unescaped {m.group('bare')!r} at {m.start()}")
        elif m.group("entity") is not None:
            name = m.group("entity")
            if name.startswith("#"):
                out.append(chr(int(name[2:], 16) if name[1] in "xX" else int(name[1:])))
            elif name in _NAMED_ENTITIES:
                out.append(_NAMED_ENTITIES[name])
            else:
                raise HTMLError(f"unsupported entity &{name}; at {m.start()}")
        else:
            tag = m.group("tag").lower()
            if tag not in ALLOWED_TAGS:
                raise HTMLError(f"unsupported tag <{tag}> at {m.start()}")
            if m.group("close"):
                if not stack or stack[-1] != tag:
                    raise HTMLError(f"unexpected </{tag}> at {m.start()} (open: {stack})")
                stack.pop()
                continue
            attrs = m.group("attrs").strip()
            if tag == "blockquote" and "blockquote" in stack:
                raise HTMLError("nested <blockquote>")
            if any(t in ("code", "pre") for t in stack) and not (tag == "code" and "pre" in stack):
                raise HTMLError(f"<{tag}> inside code")
            if tag == "a" and "href=" not in attrs:
                raise HTMLError("<a> without href")
            if attrs and tag not in ("a", "span", "tg-emoji", "code", "blockquote"):
                raise HTMLError(f"<{tag}> takes no attributes")
            if tag == "blockquote" and attrs not in ("", "expandable"):
                raise HTMLError(f"<blockquote {attrs}>")
            stack.append(tag)
    if stack:
        raise HTMLError(f"unclosed tags {stack}")
    return "".join(out)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def check_message_text(text: str, parse_mode: str | None) -> str:
    """The visible text; HTMLError/ValueError with Telegram's complaint if it is not sendable."""
    visible = parse_html(text) if parse_mode == "HTML" else text
    if not visible.strip():
        raise ValueError("message text is empty")
    if utf16_len(visible) > MAX_TEXT:
        raise ValueError("message is too long")
    return visible


def check_markup(markup: Any) -> None:
    if markup is None:
        return
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not button.get("text"):
                raise ValueError("BUTTON_TEXT_EMPTY")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_BYTES:
                raise ValueError("BUTTON_DATA_INVALID")


# --- the server ---------------------------------------------------------------------------


@dataclass
class Call:
    """One request the bot made."""

    method: str
    params: dict[str, Any]
    status: int = 200
    result: Any = None
    injected: bool = False  # an error the test asked for (fail_next)
    at: float = field(default_factory=time.monotonic)


class _Reject(Exception):
    def __init__(
        self,
        status: int,
        description: str,
        parameters: dict[str, Any] | None = None,
        *,
        injected: bool = False,
    ) -> None:
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters
        self.injected = injected


def _user_of(update: dict[str, Any]) -> dict[str, Any]:
    for key in ("message", "callback_query", "inline_query"):
        if key in update:
            return update[key].get("from", {})
    return {}


class BotAPIServer:
    """The stand-in; use as a context manager (or start()/stop())."""

    def __init__(self, token: str = TOKEN, bot_user: dict[str, Any] | None = None) -> None:
        self.token = token
        self.bot_user = dict(bot_user or BOT_USER)
        self.calls: list[Call] = []
        self.rejected: list[Call] = []  # refused calls the test did not provoke: bot bugs
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self._lock = threading.Lock()
        self._updates_ready = threading.Condition(self._lock)
        self._updates: list[dict[str, Any]] = []
        self.pushed: list[dict[str, Any]] = []  # every update fed, in order
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(100)
        self._query_ids = itertools.count(1)
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._open_queries: set[str] = set()
        self._failures: list[tuple[str, int, str, dict[str, Any] | None]] = []
        self._closing = False
        self.webhook: dict[str, Any] = {}  # the last setWebhook's parameters
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --

    def start(self) -> BotAPIServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = False
        server.block_on_close = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._closing = True
            self._updates_ready.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> BotAPIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """What TELEGRAM_API_BASE_URL should be."""
        return f"{self.root}/bot"

    # -- feeding updates --

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue any update (an update_id is added); returns it."""
        with self._lock:
            update = {"update_id": next(self._update_ids), **update}
            self._updates.append(update)
            self.pushed.append(update)
            self._updates_ready.notify_all()
        return update

    def _new_message(
        self, chat: dict[str, Any], user: dict[str, Any], text: str, reply_to: dict | None
    ) -> dict[str, Any]:
        with self._lock:
            self._chats[chat["id"]] = chat
            message = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": chat,
                "from": user,
                "text": text,
            }
            entities = _entities(text)
            if entities:
                message["entities"] = entities
            if reply_to is not None:
                message["reply_to_message"] = reply_to
            self._messages[(chat["id"], message["message_id"])] = message
        return message

    def private_text(self, text: str, *, user: dict[str, Any] = ALICE) -> dict[str, Any]:
        """A user writes to the bot in private; returns the message."""
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        message = self._new_message(chat, user, text, None)
        self.push({"message": message})
        return message

    def group_text(
        self,
        text: str,
        *,
        user: dict[str, Any] = BOB,
        chat: dict[str, Any] = GROUP,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A user writes in a group (optionally replying to a message); returns the message."""
        message = self._new_message(chat, user, text, reply_to)
        self.push({"message": message})
        return message

    def press(
        self, message: dict[str, Any], data: str, *, user: dict[str, Any] = ALICE
    ) -> dict[str, Any]:
        """A user presses a button (by its callback data) under one of the bot's messages."""
        with self._lock:
            query_id = f"cq{next(self._query_ids)}"
            self._open_queries.add(query_id)
        return self.push(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user,
                    "chat_instance": "ci-1",
                    "message": message,
                    "data": data,
                }
            }
        )

    def inline(self, query: str, *, user: dict[str, Any] = ALICE) -> dict[str, Any]:
        """A user types `@bot query` in some chat."""
        with self._lock:
            query_id = f"iq{next(self._query_ids)}"
            self._open_queries.add(query_id)
        return self.push(
            {"inline_query": {"id": query_id, "from": user, "query": query, "offset": ""}}
        )

    def add_file(self, content: bytes, file_name: str = "report.txt") -> str:
        """Make a file downloadable via getFile; returns its file_id."""
        file_id = f"file{len(self.files) + 1}"
        self.files[file_id] = (f"documents/{file_id}_{file_name}", content)
        return file_id

    def private_document(
        self,
        content: bytes,
        file_name: str | None,
        *,
        user: dict[str, Any] = ALICE,
        mime_type: str = "application/octet-stream",
    ) -> dict[str, Any]:
        """A user sends a file to the bot in private (downloadable via getFile, which stores it
        under a path of its own, as Telegram does); returns the message."""
        file_id = self.add_file(content, "upload")
        document = {"file_id": file_id, "file_unique_id": f"u{file_id}", "mime_type": mime_type}
        document["file_size"] = len(content)
        if file_name is not None:
            document["file_name"] = file_name
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        message = self._new_message(chat, user, "", None)
        del message["text"]
        message["document"] = document
        self.push({"message": message})
        return message

    # -- failures --

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next call of `method` with an error (default: 429, retry after 1 s)."""
        params = {"retry_after": retry_after} if status == 429 and retry_after else None
        text = description or (
            f"Too Many Requests: retry after {retry_after}" if status == 429 else "Bad Request"
        )
        with self._lock:
            self._failures.append((method, status, text, params))

    def drop_next(self, method: str, times: int = 1) -> None:
        """Close the connection of the next `times` calls of `method` without any answer (as a
        network failure looks to the client); recorded with status 0."""
        with self._lock:
            self._failures.extend([(method, 0, "connection dropped", None)] * times)

    # -- inspection --

    def calls_to(self, method: str, *, ok: bool = True) -> list[Call]:
        """Calls of a method (by default only those that succeeded)."""
        with self._lock:
            return [c for c in self.calls if c.method == method and (c.status == 200) == ok]

    def sent(self, chat_id: int | None = None) -> list[Call]:
        """Successful sendMessage calls, optionally to one chat."""
        return [
            c
            for c in self.calls_to("sendMessage")
            if chat_id is None or int(c.params["chat_id"]) == chat_id
        ]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """A message as Telegram holds it now (after edits), as an update would carry it."""
        with self._lock:
            return _public(self._messages[(chat_id, message_id)])

    def current(self, call: Call) -> dict[str, Any]:
        """The message a sendMessage call created, as it is now (after edits)."""
        return self.message(call.result["chat"]["id"], call.result["message_id"])

    def bot_messages(self, chat_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return [
                m
                for (c, _), m in sorted(self._messages.items())
                if c == chat_id and m["from"]["id"] == self.bot_user["id"]
            ]

    async def wait_for(
        self, predicate: Callable[[], Any], *, timeout: float = 5.0, what: str = ""
    ) -> Any:
        """Poll until predicate() is truthy; its value, or AssertionError after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or predicate}")
            await asyncio.sleep(0.02)

    async def wait_sent(self, count: int, *, chat_id: int | None = None, timeout: float = 5.0):
        """Wait until at least `count` messages went to the chat; returns them all."""
        return await self.wait_for(
            lambda: (s := self.sent(chat_id)) and len(s) >= count and s,
            timeout=timeout,
            what=f"{count} sendMessage to {chat_id}",
        )

    # -- serving --

    def handle(self, method: str, params: dict[str, Any]) -> Any:
        """Run one Bot API method; returns the result or raises _Reject."""
        with self._lock:
            for i, (name, status, text, parameters) in enumerate(self._failures):
                if name == method:
                    del self._failures[i]
                    raise _Reject(status, text, parameters, injected=True)
        if method == "getUpdates":
            return self._get_updates(params)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            raise _Reject(404, "Not Found: method not found")
        with self._lock:
            return handler(params)

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset", 0) or 0)
        limit = int(params.get("limit", 100) or 100)
        deadline = time.monotonic() + float(params.get("timeout", 0) or 0)
        with self._updates_ready:
            while True:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                if self._updates or self._closing:
                    return self._updates[:limit]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._updates_ready.wait(remaining)

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        try:
            return self._chats[int(chat_id)]
        except (KeyError, ValueError):
            raise _Reject(400, "Bad Request: chat not found") from None

    def _api_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.bot_user

    def _api_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = {}
        return True

    def _api_setWebhook(self, params: dict[str, Any]) -> bool:
        # Telegram wants https; the stand-in also takes a local http URL, for tests.
        if not str(params.get("url", "")).startswith(("https://", "http://127.0.0.1:")):
            raise _Reject(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        self.webhook = params  # url, secret_token, allowed_updates, ...
        return True

    def _api_setMyCommands(self, params: dict[str, Any]) -> bool:
        return True

    def _api_getMyCommands(self, params: dict[str, Any]) -> list[Any]:
        return []

    def _api_sendChatAction(self, params: dict[str, Any]) -> bool:
        self._chat(params["chat_id"])
        return True

    def _check_text(self, params: dict[str, Any]) -> str:
        try:
            check_markup(params.get("reply_markup"))
            return check_message_text(params.get("text", ""), params.get("parse_mode"))
        except HTMLError as exc:
            raise _Reject(400, f"Bad Request: can't parse entities: {exc}") from None
        except ValueError as exc:
            raise _Reject(400, f"Bad Request: {exc}") from None

    def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params["chat_id"])
        visible = self._check_text(params)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self.bot_user,
            "text": visible,
            "html": params.get("text"),  # not Telegram's: what the bot sent, for tests
        }
        reply = params.get("reply_parameters")
        if reply:
            original = self._messages.get((chat["id"], int(reply["message_id"])))
            if original is None and not reply.get("allow_sending_without_reply"):
                raise _Reject(400, "Bad Request: message to be replied not found")
            if original is not None:
                message["reply_to_message"] = _public(original)
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self._messages[(chat["id"], message["message_id"])] = message
        return _public(message)

    def _existing(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params.get("chat_id"))
        message = self._messages.get((chat["id"], int(params.get("message_id", 0))))
        if message is None:
            raise _Reject(400, "Bad Request: message to edit not found")
        return message

    def _api_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._existing(params)
        visible = self._check_text(params)
        markup = params.get("reply_markup")
        if message.get("html") == params.get("text") and message.get("reply_markup") == markup:
            raise _Reject(400, "Bad Request: message is not modified")
        message.update(text=visible, html=params.get("text"), edit_date=int(time.time()))
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        return _public(message)

    def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._existing(params)
        markup = params.get("reply_markup")
        try:
            check_markup(markup)
        except ValueError as exc:
            raise _Reject(400, f"Bad Request: {exc}") from None
        if message.get("reply_markup") == markup:
            raise _Reject(400, "Bad Request: message is not modified")
        if markup and markup.get("inline_keyboard"):
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        return _public(message)

    def _answer_query(self, query_id: str) -> None:
        if query_id not in self._open_queries:
            raise _Reject(400, "Bad Request: query is too old and response timeout expired")
        self._open_queries.discard(query_id)

    def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        self._answer_query(params["callback_query_id"])
        return True

    def _api_answerInlineQuery(self, params: dict[str, Any]) -> bool:
        results = params.get("results", [])
        if len(results) > 50:
            raise _Reject(400, "Bad Request: RESULTS_TOO_MUCH")
        ids = [r.get("id", "") for r in results]
        if len(set(ids)) != len(ids) or any(not 1 <= len(i.encode()) <= 64 for i in ids):
            raise _Reject(400, "Bad Request: RESULT_ID_INVALID")
        for result in results:
            content = result.get("input_message_content", {})
            try:
                check_message_text(content.get("message_text", ""), content.get("parse_mode"))
                check_markup(result.get("reply_markup"))
            except ValueError as exc:
                raise _Reject(400, f"Bad Request: {exc}") from None
        self._answer_query(params["inline_query_id"])
        return True

    def _api_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = params.get("file_id", "")
        if file_id not in self.files:
            raise _Reject(400, "Bad Request: invalid file_id")
        path, content = self.files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(content),
            "file_path": path,
        }

    def record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)
            if call.status != 200 and not call.injected:
                self.rejected.append(call)


def _public(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k != "html"}


def _entities(text: str) -> list[dict[str, Any]]:
    """bot_command at the start and @mentions, with offsets in UTF-16 units like Telegram's."""
    entities = []
    for pattern, kind in ((r"^/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?", "bot_command"),
                          (r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,}", "mention")):  # fmt: skip
        for m in re.finditer(pattern, text):
            entities.append(
                {
                    "type": kind,
                    "offset": utf16_len(text[: m.start()]),
                    "length": utf16_len(m.group(0)),
                }
            )
    return sorted(entities, key=lambda e: e["offset"])


def _decode_params(raw: dict[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, value in raw.items():
        if name in _STRING_PARAMS:
            params[name] = value
            continue
        try:
            params[name] = json.loads(value)
        except ValueError:
            params[name] = value
    return params


def _read_params(handler: BaseHTTPRequestHandler) -> dict[str, Any]:
    length = int(handler.headers.get("Content-Length") or 0)
    body = handler.rfile.read(length) if length else b""
    ctype = handler.headers.get("Content-Type", "")
    raw: dict[str, str] = {}
    if ctype.startswith("multipart/form-data"):
        parser = email.parser.BytesParser(policy=email.policy.HTTP)
        message = parser.parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename():
                raw[str(name)] = f"<file {part.get_filename()}>"
            else:
                raw[str(name)] = part.get_content()
    elif ctype.startswith("application/json") and body:
        raw = {k: v if isinstance(v, str) else json.dumps(v) for k, v in json.loads(body).items()}
    else:
        raw = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        raw.update(urllib.parse.parse_qsl(urllib.parse.urlsplit(handler.path).query))
    return _decode_params(raw)


def _handler_for(api: BotAPIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _reply(self, status: int, payload: bytes, ctype: str = "application/json") -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the client gave up (e.g. a cancelled long poll)
                pass

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            self._reply(status, json.dumps(payload, ensure_ascii=False).encode())

        def do_GET(self) -> None:
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            prefix = f"/file/bot{api.token}/"
            if path.startswith("/file/bot") and not path.startswith(prefix):
                self._json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                return
            wanted = path[len(prefix) :]
            for file_path, content in api.files.values():
                if file_path == wanted:
                    self._reply(200, content, "application/octet-stream")
                    return
            if path.startswith("/bot"):
                self.do_POST()
                return
            self._json(404, {"ok": False, "error_code": 404, "description": "Not Found"})

        def do_POST(self) -> None:
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            match = re.fullmatch(r"/bot(?P<token>[^/]*)/(?P<method>\w+)", path)
            if match is None:
                self._json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                return
            params = _read_params(self)
            call = Call(match["method"], params)
            if match["token"] != api.token:
                call.status = 401
                api.record(call)
                self._json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                return
            try:
                result = api.handle(call.method, params)
            except _Reject as exc:
                call.status, call.injected = exc.status, exc.injected
                api.record(call)
                if exc.status == 0:  # drop_next: hang up without a word
                    self.close_connection = True
                    return
                body: dict[str, Any] = {
                    "ok": False,
                    "error_code": exc.status,
                    "description": exc.description,
                }
                if exc.parameters:
                    body["parameters"] = exc.parameters
                self._json(exc.status, body)
                return
            call.result = result
            api.record(call)
            self._json(200, {"ok": True, "result": result})

    return Handler


def visible_text(call: Call) -> str:
    """What the user sees for a sendMessage/editMessageText call (HTML parsed)."""
    return html.unescape(re.sub(r"<[^>]+>", "", call.params.get("text", "")))


def buttons(call_or_message: Call | dict[str, Any]) -> list[dict[str, Any]]:
    """The inline buttons of a sent message (flattened)."""
    if isinstance(call_or_message, Call):
        markup = call_or_message.params.get("reply_markup") or {}
    else:
        markup = call_or_message.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def button(call_or_message: Call | dict[str, Any], label_prefix: str) -> dict[str, Any]:
    """The first button whose label starts with label_prefix."""
    for b in buttons(call_or_message):
        if b["text"].startswith(label_prefix):
            return b
    raise AssertionError(f"no button {label_prefix!r} in {buttons(call_or_message)}")
