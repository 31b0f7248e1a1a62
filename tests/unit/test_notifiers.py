"""Notifiers against a real HTTP server on 127.0.0.1: delivery, retries, timeouts, secrets, plugins."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from perception.core.hazards import HazardAlert
from perception.core.notifiers import (
    LogNotifier,
    NotifierError,
    NoTranslator,
    WebhookNotifier,
    create_notifier,
    create_translator,
)

TOKEN = "s3cr3t-token-value"
ALERT = HazardAlert("knife", "danger", "Danger: a knife", "knife", "caption", "a knife on a table", 1.0)


class Hook:
    """What the test server answers (status codes in order, optional delays) and what it received."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.delays: list[float] = []
        self.received: list[dict] = []
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.release.set()


@pytest.fixture
def server():
    hook = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            index = len(hook.received)
            hook.received.append({"body": json.loads(body), "auth": self.headers.get("Authorization")})
            hook.arrived.set()
            hook.release.wait(10)
            if index < len(hook.delays):
                time.sleep(hook.delays[index])
            status = hook.statuses[index] if index < len(hook.statuses) else 200
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield hook, f"http://127.0.0.1:{httpd.server_address[1]}/alerts"
    hook.release.set()
    httpd.shutdown()
    httpd.server_close()


def _webhook(url: str, **options) -> WebhookNotifier:
    return WebhookNotifier(
        url, **{"token": TOKEN, "timeout_s": 2.0, "retries": 3, "backoff_s": 0.01, **options}
    )


def test_posts_alert_json_with_bearer_token(server):
    hook, url = server
    notifier = _webhook(url)
    notifier.notify(ALERT)
    assert notifier.flush(10)
    notifier.close()
    assert len(hook.received) == 1
    assert hook.received[0]["body"]["hazard"] == "knife" and hook.received[0]["body"]["severity"] == "danger"
    assert hook.received[0]["auth"] == f"Bearer {TOKEN}"
    assert (notifier.sent, notifier.failed) == (1, 0)


def test_retries_server_errors_then_succeeds(server, caplog):
    hook, url = server
    hook.statuses = [500, 503, 200]
    notifier = _webhook(url)
    with caplog.at_level(logging.DEBUG):
        notifier.notify(ALERT)
        assert notifier.flush(10)
    notifier.close()
    assert len(hook.received) == 3 and (notifier.sent, notifier.failed) == (1, 0)
    assert "HTTP 500" in caplog.text and "retrying" in caplog.text
    assert TOKEN not in caplog.text


def test_gives_up_after_retries_and_does_not_retry_client_errors(server):
    hook, url = server
    hook.statuses = [500] * 10
    notifier = _webhook(url, retries=2)
    notifier.notify(ALERT)
    assert notifier.flush(10)
    assert len(hook.received) == 3 and (notifier.sent, notifier.failed) == (0, 1)
    hook.statuses = [500] * 3 + [401]
    notifier.notify(ALERT)
    assert notifier.flush(10)
    notifier.close()
    assert len(hook.received) == 4 and notifier.failed == 2


def test_timeout_is_retried(server, caplog):
    hook, url = server
    hook.delays = [1.5]
    notifier = _webhook(url, timeout_s=0.3, retries=1)
    with caplog.at_level(logging.WARNING):
        notifier.notify(ALERT)
        assert notifier.flush(10)
    notifier.close()
    assert notifier.sent == 1 and len(hook.received) == 2
    assert "timed out" in caplog.text.lower()


def test_notify_never_waits_for_the_server_and_drops_oldest_when_full(server):
    hook, url = server
    hook.release.clear()  # the server holds the first request until released
    notifier = _webhook(url, queue_size=1)
    first, second, third = (HazardAlert(f"h{i}", "info", "m", "w", "caption", "", 0.0) for i in range(3))
    notifier.notify(first)
    assert hook.arrived.wait(10)  # the worker is now stuck in the first POST...
    notifier.notify(second)  # ...yet notify returns: queued
    notifier.notify(third)  # queue full: the older queued alert is dropped
    assert notifier.dropped == 1
    hook.release.set()
    assert notifier.flush(10)
    notifier.close()
    assert [item["body"]["hazard"] for item in hook.received] == ["h0", "h2"]


def test_secrets_never_in_repr_or_logs(server, caplog):
    hook, url = server
    hook.statuses = [500] * 10
    secret_url = url.replace("http://", "http://user:pass@") + "?key=querysecret"
    notifier = _webhook(secret_url, token=None, retries=1)
    with caplog.at_level(logging.DEBUG):
        notifier.notify(ALERT)
        assert notifier.flush(10)
    notifier.close()
    for text in (repr(notifier), caplog.text):
        assert TOKEN not in text and "querysecret" not in text and "pass@" not in text
    assert "/alerts" in caplog.text


def test_token_from_environment(monkeypatch, server):
    _, url = server
    monkeypatch.setenv("GUARDIAN_TOKEN", TOKEN)
    notifier = WebhookNotifier(url, token_env="GUARDIAN_TOKEN")
    assert "***" in repr(notifier)
    notifier.close()
    monkeypatch.delenv("GUARDIAN_TOKEN")
    with pytest.raises(NotifierError, match="GUARDIAN_TOKEN"):
        WebhookNotifier(url, token_env="GUARDIAN_TOKEN")


def test_log_notifier_level_follows_severity(caplog):
    with caplog.at_level(logging.INFO):
        LogNotifier().notify(ALERT)
    assert caplog.records[-1].levelno == logging.ERROR and "knife" in caplog.text


def test_plugin_lookup_by_name_and_module_class(server):
    _, url = server
    assert isinstance(create_notifier("log"), LogNotifier)
    assert isinstance(create_notifier("perception.core.notifiers:LogNotifier"), LogNotifier)
    webhook = create_notifier("webhook", url=url, retries=0)
    assert isinstance(webhook, WebhookNotifier)
    webhook.close()
    with pytest.raises(NotifierError, match="unknown Notifier 'email'"):
        create_notifier("email")
    with pytest.raises(NotifierError, match="not a Notifier subclass"):
        create_notifier("collections:OrderedDict")
    with pytest.raises(NotifierError, match="cannot load plugin"):
        create_notifier("no_such_module:Thing")
    with pytest.raises(NotifierError, match="rejected its options"):
        create_notifier("log", colour="red")
    with pytest.raises(NotifierError, match="http"):
        create_notifier("webhook", url="ftp://example/x")


def test_translator_default_is_identity():
    translator = create_translator()
    assert isinstance(translator, NoTranslator)
    assert translator.translate("Danger: a knife", "ko") == "Danger: a knife"
    assert isinstance(create_translator("perception.core.notifiers:NoTranslator"), NoTranslator)


def test_url_credentials_are_sent_as_basic_auth_and_never_logged(server, caplog):
    hook, url = server
    secret_url = url.replace("http://", "http://guard%40home:p%3Ass@") + "?api_key=K3Y"
    notifier = WebhookNotifier(secret_url, timeout_s=2.0, retries=0)
    with caplog.at_level(logging.DEBUG):
        notifier.notify(ALERT)
        assert notifier.flush(5.0)
        notifier.close(1.0)
    assert notifier.sent == 1, caplog.text
    assert hook.received[0]["auth"] == "Basic " + base64.b64encode(b"guard@home:p:ss").decode()
    for secret in ("p%3Ass", "p:ss", "K3Y"):
        assert secret not in repr(notifier)
        assert secret not in caplog.text


def test_url_credentials_and_a_token_together_are_refused():
    with pytest.raises(NotifierError, match="user:password and a bearer token") as error:
        WebhookNotifier("https://user:hunter2@example.invalid/alerts", token=TOKEN)
    assert "hunter2" not in str(error.value)


def test_failed_delivery_logs_the_url_without_its_secrets(caplog):
    notifier = WebhookNotifier("http://user:hunter2@127.0.0.1:9/alerts?api_key=K3Y", timeout_s=0.5, retries=0)
    with caplog.at_level(logging.WARNING):
        notifier.notify(ALERT)
        notifier.flush(5.0)
        notifier.close(1.0)
    assert notifier.failed == 1
    assert "127.0.0.1:9/alerts" in caplog.text
    assert "hunter2" not in caplog.text and "K3Y" not in caplog.text
