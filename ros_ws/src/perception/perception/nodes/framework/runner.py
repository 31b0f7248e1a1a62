"""``main()`` for console scripts: init, optional autostart, spin, clean shutdown.

With ``autostart`` true (the default) ``ros2 run perception detector_node`` configures and
activates the node itself; under a lifecycle manager set ``-p autostart:=false`` and drive
the transitions from outside. A failed autostart leaves the node running unconfigured, so
it can still be fixed (``ros2 param set``) and configured through its lifecycle services.
"""

from __future__ import annotations

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
        node.destroy_node()
        rclpy.try_shutdown()
