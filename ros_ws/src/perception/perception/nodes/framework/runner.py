"""``main()`` for console scripts: init, optional autostart, spin, clean shutdown.

With ``autostart`` true (the default) ``ros2 run perception detector_node`` configures and
activates the node itself; under a lifecycle manager set ``-p autostart:=false`` and drive
the transitions from outside. A failed autostart leaves the node running unconfigured, so
it can still be fixed (``ros2 param set``) and configured through its lifecycle services.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

from perception.nodes.framework.image_node import ImageModelNode


def run_node(factory: Callable[[], ImageModelNode], args: Sequence[str] | None = None) -> None:
    """Create the node with ``factory`` after ``rclpy.init(args)`` and spin it until shutdown."""
    rclpy.init(args=args)
    node = factory()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        if node.get_parameter("autostart").value and not node.autostart():
            node.get_logger().error("autostart failed; node stays unconfigured (see the error above)")
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if not node.finalized:
            node.trigger_shutdown()
        executor.remove_node(node)
        node.destroy_node()
        rclpy.try_shutdown()
