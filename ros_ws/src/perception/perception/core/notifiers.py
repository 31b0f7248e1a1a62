"""Where hazard alerts go: notifier plugins (log, HTTP webhook, your own) and translators.

A notifier's ``notify`` must never block the caller (a ROS callback): the webhook notifier
hands alerts to its own worker thread through a bounded queue and does the HTTP work, with
timeouts and retries, there. Secrets (a bearer token) never appear in logs or reprs.

Plugins are chosen by name (``log``, ``webhook``, ``none``) or as ``package.module:Class``.
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import os
import queue
import threading
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import asdict
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from perception.core.hazards import HazardAlert
from perception.core.secrets import MASK, redact_text, redact_url

LOG = logging.getLogger(__name__)
_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "danger": logging.ERROR}
_RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}
_STOP = object()
PluginT = TypeVar("PluginT")


class NotifierError(ValueError):
    """A notifier or translator could not be created from its configuration."""


class Notifier(ABC):
    """Receives every alert; ``notify`` returns at once (slow work belongs on a worker thread)."""

    @abstractmethod
    def notify(self, alert: HazardAlert) -> None: ...

    def close(self, timeout: float = 5.0) -> None:  # noqa: B027  (optional hook, most notifiers hold nothing)
        """Release resources; pending alerts get up to ``timeout`` seconds to go out."""


class LogNotifier(Notifier):
    """Alerts as log lines, at a level that follows the severity (danger logs as ERROR)."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or LOG

    def notify(self, alert: HazardAlert) -> None:
        self.logger.log(
            _LEVELS.get(alert.severity, logging.WARNING),
            "hazard %s (%s, from %s %r): %s",
            alert.hazard,
            alert.severity,
            alert.source,
            alert.matched,
            alert.message,
        )


class WebhookNotifier(Notifier):
    """JSON POST of each alert to ``url`` (e.g. a guardian's messaging bridge).

    Retries timeouts, connection errors and 408/429/5xx answers with exponential backoff
    (``backoff_s``, 2x, 4x ...); other 4xx answers are not retried. When the queue is full the
    oldest alert is dropped (and counted): the newest one describes the present.
    Credentials in the URL (``https://user:password@host/...``) are sent as HTTP basic auth
    (urllib would take ``user:password@host`` for the host name); a URL with credentials and a
    bearer token together is refused, as the server could only check one of them.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        token_env: str | None = None,
        timeout_s: float = 3.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        queue_size: int = 32,
    ) -> None:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018  (raises ValueError for a bad port)
        except ValueError as error:
            raise NotifierError(f"webhook url {redact_url(url)!r} is malformed: {error}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise NotifierError(f"webhook url must be http(s)://host/path, got {redact_url(url)!r}")
        if token_env and not token:
            token = os.environ.get(token_env)
            if not token:
                raise NotifierError(f"webhook token_env {token_env!r} is not set in the environment")
        self._basic_auth = _basic_auth(parts.username, parts.password)
        if self._basic_auth and token:
            raise NotifierError(
                f"webhook url {redact_url(url)!r} carries user:password and a bearer token is set too; "
                "use one of them (remove the credentials from webhook_url or unset webhook_token_env)"
            )
        self.url = url
        self._post_url = _without_userinfo(url)
        self._token = token
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.sent = self.failed = self.dropped = 0
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run, name="webhook-notifier", daemon=True)
        self._worker.start()

    def __repr__(self) -> str:
        token = MASK if self._token else None
        return f"WebhookNotifier(url={redact_url(self.url)!r}, token={token!r}, retries={self.retries})"

    def notify(self, alert: HazardAlert) -> None:
        """Queue the alert and return immediately."""
        while True:
            try:
                self._queue.put_nowait(alert)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self._queue.task_done()
                    self.dropped += 1
                    LOG.warning(
                        "webhook queue full: dropped the oldest alert (%d dropped so far)", self.dropped
                    )
                except queue.Empty:
                    continue

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued alert was sent or given up on; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
        return True

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        self._stop.set()
        self._queue.put(_STOP)
        self._worker.join(timeout)

    def _run(self) -> None:
        while True:
            alert = self._queue.get()
            try:
                if alert is _STOP:
                    return
                self._deliver(alert)
            finally:
                self._queue.task_done()

    def _deliver(self, alert: HazardAlert) -> None:
        body = json.dumps(asdict(alert), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        elif self._basic_auth:
            headers["Authorization"] = self._basic_auth
        for attempt in range(self.retries + 1):
            problem = self._post(body, headers)
            if problem is None:
                self.sent += 1
                return
            retry = problem[1] and attempt < self.retries and not self._stop.is_set()
            LOG.warning(
                "webhook %s: %s (attempt %d of %d%s)",
                redact_url(self.url),
                problem[0],
                attempt + 1,
                self.retries + 1,
                ", retrying" if retry else ", giving up",
            )
            if not retry:
                break
            self._stop.wait(self.backoff_s * 2**attempt)
        self.failed += 1

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[str, bool] | None:
        """None on success, else (what went wrong, whether a retry may help)."""
        request = urllib.request.Request(self._post_url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
            return None
        except urllib.error.HTTPError as error:
            return f"HTTP {error.code} {error.reason}", error.code in _RETRYABLE_STATUS
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            return redact_text(f"{type(reason).__name__}: {reason}"), True


class Translator(ABC):
    """Offline translation of guidance messages (e.g. English rules spoken in Korean)."""

    @abstractmethod
    def translate(self, text: str, target_language: str) -> str: ...


class NoTranslator(Translator):
    """The default: messages are used as written in the rules file."""

    def translate(self, text: str, target_language: str) -> str:
        return text


NOTIFIERS: dict[str, type[Notifier]] = {"log": LogNotifier, "webhook": WebhookNotifier}
TRANSLATORS: dict[str, type[Translator]] = {"none": NoTranslator}


def create_notifier(spec: str, **options: Any) -> Notifier:
    """``log``, ``webhook`` or ``package.module:Class`` (a Notifier subclass), built with ``options``."""
    return _create(spec, NOTIFIERS, Notifier, options)


def create_translator(spec: str = "none", **options: Any) -> Translator:
    """``none`` or ``package.module:Class`` (a Translator subclass), built with ``options``."""
    return _create(spec, TRANSLATORS, Translator, options)


def _create(
    spec: str, registry: dict[str, type[PluginT]], base: type[PluginT], options: dict[str, Any]
) -> PluginT:
    if spec in registry:
        plugin = registry[spec]
    elif ":" in spec:
        module_name, _, class_name = spec.partition(":")
        try:
            plugin = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as error:
            raise NotifierError(f"cannot load plugin {spec!r}: {error}") from error
        if not (isinstance(plugin, type) and issubclass(plugin, base)):
            raise NotifierError(f"plugin {spec!r} is not a {base.__name__} subclass")
    else:
        raise NotifierError(
            f"unknown {base.__name__} {spec!r}; use one of {sorted(registry)} or 'module:Class'"
        )
    try:
        return plugin(**options)
    except TypeError as error:
        raise NotifierError(
            f"{base.__name__} {spec!r} rejected its options {sorted(options)}: {error}"
        ) from error


def _basic_auth(username: str | None, password: str | None) -> str | None:
    """The Authorization header value for URL credentials (percent-decoded), or None."""
    if username is None:
        return None
    pair = f"{unquote(username)}:{unquote(password or '')}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _without_userinfo(url: str) -> str:
    """``url`` with ``user:password@`` removed from its network location."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
