"""``main()`` for console scripts: init, optional autostart, spin, clean shutdown.

With ``autostart`` true (the default) ``ros2 run perception detector_node`` configures and
activates the node itself; under a lifecycle manager set ``-p autostart:=false`` and drive
the transitions from outside. A failed autostart leaves the node running unconfigured, so
it can still be fixed (``ros2 param set``) and configured through its lifecycle services.

Ctrl-C with a frame in flight: the node waits half a second for it, then discards it. The
inference thread cannot be interrupted, and letting the interpreter finalise under it aborts
the process (torch's thread pool is destroyed while in use: "terminate called without an
active exception", exit code 134). Finalising torch also takes seconds on a busy machine
(three model nodes ending together outlived ``ros2 launch``'s 5 s before SIGTERM), so the
process always ends with ``os._exit`` once ROS is shut down and the logs are flushed.

A SIGINT is handled by rclpy, which shuts the context down from its own thread; the
KeyboardInterrupt can reach this thread first (e.g. while it is loading the model), so the
clean-up waits for that shutdown before choosing between a shutdown transition (context
still up) and a plain teardown (context gone): deciding earlier let the two race ("Failed to
complete transition 6, current state is finalized"). Further SIGINTs are ignored during the
clean-up: Ctrl-C in a terminal reaches every node and ``ros2 launch`` then forwards its own.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence

import rclpy
from rclpy.context import Context
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from perception.nodes.framework.managed_node import ManagedNode
from perception.nodes.framework.rclpy_compat import try_shutdown_keeping_signal_handlers

# How long a KeyboardInterrupt waits for rclpy's signal handler to shut the context down.
SIGNAL_SHUTDOWN_WAIT_S = 1.0


def run_node(
    factory: Callable[[], ManagedNode],
    args: Sequence[str] | None = None,
    executor_factory: Callable[[], Executor] = SingleThreadedExecutor,
) -> None:
    """Create the node with ``factory`` after ``rclpy.init(args)`` and spin it until shutdown.

    ``executor_factory`` lets a node that serves slow requests in their own callback group
    (the caption node's CaptionImage) spin on a MultiThreadedExecutor.
    """
    run_nodes(lambda: [factory()], args, executor_factory)


def run_nodes(
    build: Callable[[], Sequence[Node]],
    args: Sequence[str] | None = None,
    executor_factory: Callable[[], Executor] = SingleThreadedExecutor,
    isolate_callbacks: bool = False,
) -> None:
    """``run_node`` for several nodes on one executor (``build`` runs after ``rclpy.init``).

    Managed nodes autostart one by one (one failing leaves the others alone) and are shut down
    through their lifecycle. With ``isolate_callbacks`` an exception a callback raises is logged
    and the executor spins on, so one node's bug does not stop the process's other nodes.
    """
    rclpy.init(args=args)
    nodes = list(build())
    managed = [node for node in nodes if isinstance(node, ManagedNode)]
    executor = executor_factory()
    for node in nodes:
        executor.add_node(node)
    interrupted = False
    try:
        for node in managed:
            if node.startup.autostart and not node.autostart():
                node.get_logger().error("autostart failed; node stays unconfigured (see the error above)")
        spin_until_shutdown(executor, isolate_callbacks)
    except KeyboardInterrupt:
        interrupted = True
    except ExternalShutdownException:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        context = nodes[0].context
        if interrupted:
            _await_shutdown(context, SIGNAL_SHUTDOWN_WAIT_S)
        for node in managed:
            if node.finalized:
                pass
            elif context.ok():
                node.trigger_shutdown()
            else:
                node.teardown()
        for node in nodes:
            executor.remove_node(node)
            node.destroy_node()
        try_shutdown_keeping_signal_handlers()  # keep SIGINT ignored until the exit (Humble too)
        _exit_now()


def spin_until_shutdown(executor: Executor, isolate_callbacks: bool = False) -> None:
    """Spin until shutdown; with ``isolate_callbacks`` a callback's exception is logged, not fatal."""
    while True:
        try:
            executor.spin()
            return
        except (KeyboardInterrupt, ExternalShutdownException):
            raise
        except Exception:
            if not isolate_callbacks:
                raise
            logging.getLogger(__name__).exception("a callback raised; the other nodes keep running")


def _await_shutdown(context: Context, timeout: float) -> None:
    """Wait until ``context`` is shut down, at most ``timeout`` s (a SIGINT's shutdown is under way)."""
    deadline = time.monotonic() + timeout
    while context.ok() and time.monotonic() < deadline:
        time.sleep(0.005)


def _exit_now() -> None:
    """End the process without finalising the interpreter (and torch) after the node's clean-up."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
