"""`perception_bag`: replay, record and inspect rosbag2 bags (and write synthetic ones).

Also runs as `python -m perception.bags`. Examples:

    perception_bag write-synthetic OUT --frames 50 --fps 10 --seed 0 --kind glass
    perception_bag write-synthetic OUT --frames 150 --fps 15 --kind sign
    perception_bag info OUT
    perception_bag replay OUT --rate 2 --wait-for-subscribers 10
    perception_bag record REC --topics /detections --duration 5

Other packages add commands through the entry-point group ``perception.bag_commands``: each
entry is a function that takes the subparsers object and adds its command, whose ``run``
default is called as ``run(args, argv)``. The training package adds ``write-synthetic``
(camera bags from its synthetic world); where it is not installed (a robot) the command is
absent. The runtime package itself never imports the training package.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

from perception.bags.reading import bag_info
from perception.bags.storage import STORAGE_PLUGINS, WRITE_VERSIONS

if TYPE_CHECKING:
    from rclpy.node import Node

LOG = logging.getLogger("perception_bag")
COMMANDS_GROUP = "perception.bag_commands"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] %(name)s: %(message)s")
    args = _parser().parse_args(_without_ros_args(argv))
    try:
        return args.run(args, argv)
    except (OSError, ValueError, LookupError, RuntimeError) as error:
        LOG.error("%s", error)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="perception_bag", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    for entry in sorted(entry_points(group=COMMANDS_GROUP), key=lambda entry: entry.name):
        entry.load()(commands)

    info = commands.add_parser("info", help="topics, types, counts, duration")
    info.add_argument("bag", type=Path)
    info.set_defaults(run=_info)

    replay = commands.add_parser("replay", help="publish a bag with its recorded timing (ros2 bag play)")
    replay.add_argument("bag", type=Path)
    replay.add_argument("--rate", type=float, default=1.0)
    replay.add_argument("--loop", action="store_true")
    replay.add_argument("--start-offset", type=float, default=0.0, metavar="S")
    replay.add_argument("--topics", nargs="+", default=None)
    replay.add_argument("--remap", action="append", default=[], type=_remap, metavar="FROM:=TO")
    replay.add_argument(
        "--wait-for-subscribers",
        type=float,
        default=0.0,
        metavar="S",
        help="wait up to S seconds for every replayed topic to have a subscriber",
    )
    replay.set_defaults(run=_replay)

    record = commands.add_parser("record", help="record live topics into a bag (ros2 bag record)")
    record.add_argument("out", type=Path, help="new bag folder")
    record.add_argument("--topics", nargs="+", required=True)
    record.add_argument("--duration", type=float, default=None, metavar="S")
    record.add_argument("--max-messages", type=int, default=None, metavar="N")
    record.add_argument("--discovery-timeout", type=float, default=10.0, metavar="S")
    record.add_argument(
        "--max-cache-mb",
        type=float,
        default=256.0,
        metavar="MB",
        help="messages waiting for the disk; beyond it new ones are dropped and counted",
    )
    add_storage_options(record)
    record.set_defaults(run=_record)
    return parser


def add_storage_options(parser: argparse.ArgumentParser) -> None:
    """``--storage`` and ``--bag-version`` of a command that writes a bag."""
    parser.add_argument("--storage", choices=sorted(STORAGE_PLUGINS), default="mcap")
    parser.add_argument("--bag-version", type=int, choices=WRITE_VERSIONS, default=9)


def _remap(text: str) -> tuple[str, str]:
    source, sep, target = text.partition(":=")
    if not (sep and source and target):
        raise argparse.ArgumentTypeError(f"remap {text!r} is not FROM:=TO, e.g. /camera/image_raw:=/image")
    return source, target


def _without_ros_args(argv: list[str]) -> list[str]:
    """Drop a trailing `--ros-args ...` section (rclpy reads it) before argparse sees argv."""
    return argv[: argv.index("--ros-args")] if "--ros-args" in argv else argv


def _info(args: argparse.Namespace, _: list[str]) -> int:
    print(bag_info(args.bag).format())
    return 0


def _replay(args: argparse.Namespace, argv: list[str]) -> int:
    from perception.bags.replay import replay_bag

    with _ros_node("perception_bag_player", argv) as (node, stop):
        stats = replay_bag(
            args.bag,
            node,
            rate=args.rate,
            loop=args.loop,
            start_offset_s=args.start_offset,
            topics=args.topics,
            remap=dict(args.remap),
            wait_for_subscribers_s=args.wait_for_subscribers,
            stop=stop,
        )
    LOG.info("published %d messages in %.2f s (%d pass(es))", stats.published, stats.wall_s, stats.loops)
    return 0


def _record(args: argparse.Namespace, argv: list[str]) -> int:
    from rclpy.executors import SingleThreadedExecutor

    from perception.bags.record import BagRecorder

    with _ros_node("perception_bag_recorder", argv) as (node, stop):
        recorder = BagRecorder(
            node,
            args.out,
            args.topics,
            storage=args.storage,
            version=args.bag_version,
            max_messages=args.max_messages,
            discovery_timeout_s=args.discovery_timeout,
            max_queued_bytes=int(args.max_cache_mb * 1024 * 1024),
        )
        with recorder:
            executor = SingleThreadedExecutor(context=node.context)
            executor.add_node(node)
            deadline = None if args.duration is None else time.monotonic() + args.duration
            while not (stop.is_set() or recorder.done.is_set()):
                if deadline is not None and time.monotonic() >= deadline:
                    break
                executor.spin_once(timeout_sec=0.05)
            executor.shutdown()
    LOG.info("recorded %d messages into %s (%d dropped)", recorder.count, args.out, recorder.dropped)
    return 0


@contextmanager
def _ros_node(name: str, argv: list[str]) -> Iterator[tuple[Node, threading.Event]]:
    """rclpy context + node for one command; SIGINT/SIGTERM set the event so bags get finalised."""
    import rclpy
    from rclpy.signals import SignalHandlerOptions

    context = rclpy.Context()
    # Only the --ros-args section: rcl would read the command's own `--remap FROM:=TO` as a
    # remap rule in the deprecated syntax.
    ros_args = argv[len(_without_ros_args(argv)) :]
    rclpy.init(
        args=["perception-bag", *ros_args], context=context, signal_handler_options=SignalHandlerOptions.NO
    )
    stop = threading.Event()
    previous = {
        signum: signal.signal(signum, lambda *_: stop.set()) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    node = rclpy.create_node(name, context=context)
    try:
        yield node, stop
    finally:
        node.destroy_node()
        context.try_shutdown()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
