"""``main()`` for console scripts: init, optional autostart, spin, clean shutdown.

With ``autostart`` true (the default) ``ros2 run perception detector_node`` configures and
activates the node itself; under a lifecycle manager set ``-p autostart:=false`` and drive
the transitions from outside. A failed autostart leaves the node running unconfigured, so
it can still be fixed (``ros2 param set``) and configured through its lifecycle services.

Ctrl-C with a frame in flight: the node waits about a second for it, then discards it. The
inference thread cannot be interrupted, and letting the interpreter finalise under it aborts
the process (torch's thread pool is destroyed while in use: "terminate called without an
active exception", exit code 134), so the process then ends with ``os._exit`` once ROS is
shut down and the logs are flushed.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor

from perception.nodes.framework.managed_node import ManagedNode


def run_node(
    factory: Callable[[], ManagedNode],
    args: Sequence[str] | None = None,
    executor_factory: Callable[[], Executor] = SingleThreadedExecutor,
) -> None:
    """Create the node with ``factory`` after ``rclpy.init(args)`` and spin it until shutdown.

    ``executor_factory`` lets a node that serves slow requests in their own callback group
    (the caption node's CaptionImage) spin on a MultiThreadedExecutor.
    """
    rclpy.init(args=args)
    node = factory()
    executor = executor_factory()
    executor.add_node(node)
    try:
        if node.startup.autostart and not node.autostart():
            node.get_logger().error("autostart failed; node stays unconfigured (see the error above)")
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node.finalized:
            pass
        elif rclpy.ok():
            node.trigger_shutdown()
        else:
            node.teardown()
        executor.remove_node(node)
        busy = node.busy
        node.destroy_node()
        rclpy.try_shutdown()
        if busy:
            _exit_now()


def _exit_now() -> None:
    """End the process without finalising the interpreter under a running inference thread."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
