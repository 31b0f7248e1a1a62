"""perception.nodes.framework.rclpy_compat: both branches run here, Humble's by swapping its API in.

Humble's ``rclpy.try_shutdown`` is ``rclpy.utilities.try_shutdown(*, context=None)`` (no
``uninstall_handlers``); the newer rclpy here still ships that function, so the fallback runs
against real rclpy code, not only a fake.
"""

from __future__ import annotations

import signal

import pytest
import rclpy
import rclpy.utilities

from perception.nodes.framework import rclpy_compat
from perception.nodes.framework.rclpy_compat import try_shutdown_keeping_signal_handlers


def test_newer_rclpy_gets_uninstall_handlers_false(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def kilted_try_shutdown(*, context=None, uninstall_handlers=None) -> None:
        calls.append((context, uninstall_handlers))

    monkeypatch.setattr(rclpy, "try_shutdown", kilted_try_shutdown)
    try_shutdown_keeping_signal_handlers()
    assert calls == [(None, False)]


def test_humble_try_shutdown_is_called_without_the_keyword(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def humble_try_shutdown(*, context=None) -> None:  # rejects uninstall_handlers (TypeError)
        calls.append(context)

    monkeypatch.setattr(rclpy, "try_shutdown", humble_try_shutdown)
    marker = object()
    try_shutdown_keeping_signal_handlers(marker)
    assert calls == [marker]


def test_humble_form_shuts_a_real_context_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rclpy, "try_shutdown", rclpy.utilities.try_shutdown)
    context = rclpy.Context()
    rclpy.init(context=context)
    assert context.ok()
    try_shutdown_keeping_signal_handlers(context)
    assert not context.ok()
    try_shutdown_keeping_signal_handlers(context)  # already down: no error, like rclpy's


def test_installed_rclpy_keeps_an_ignored_sigint_ignored() -> None:
    """The runner ignores SIGINT before shutting the default context down; it must stay ignored."""
    previous = signal.getsignal(signal.SIGINT)
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try_shutdown_keeping_signal_handlers(context)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert not context.ok()
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_function_without_a_signature_counts_as_the_old_form() -> None:
    assert not rclpy_compat._accepts_keyword(print, "uninstall_handlers")
    assert rclpy_compat._accepts_keyword(lambda **kwargs: None, "uninstall_handlers")
