"""Where Humble's rclpy (3.3.x) differs from the newer releases the nodes also run on.

docs/humble-compat.md lists every rclpy API the nodes use and what Humble's source says of it;
only the differences that need code live here, each detected by feature, not by version.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import rclpy
from rclpy.context import Context


def try_shutdown_keeping_signal_handlers(context: Context | None = None) -> None:
    """``rclpy.try_shutdown`` that leaves the process's SIGINT/SIGTERM handlers as they are.

    Kilted's ``rclpy.try_shutdown`` uninstalls rclpy's signal handlers (restoring the ones from
    before ``rclpy.init``, which undoes a later ``SIG_IGN``) unless ``uninstall_handlers=False``.
    Humble's (and Jazzy's) is ``rclpy.utilities.try_shutdown(*, context=None)``: it never touches
    the handlers and raises TypeError for that keyword.
    """
    if _accepts_keyword(rclpy.try_shutdown, "uninstall_handlers"):
        rclpy.try_shutdown(context=context, uninstall_handlers=False)
    else:
        rclpy.try_shutdown(context=context)


def _accepts_keyword(function: Callable[..., Any], name: str) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # no signature to read (a C function): assume the old form
        return False
    return name in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
