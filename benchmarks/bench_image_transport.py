"""Delivered / sent of camera-sized sensor_msgs/Image frames between two processes over Fast DDS.

    python benchmarks/bench_image_transport.py [--frames 24 --repeats 3]
        [--variants default,profile] [--out docs/benchmarks/image_transport]

Plain rclpy, no project code: a subscriber process and a publisher process (both with the
same reliability, KEEP_LAST depth 5 as the sensor-data profile), bgr8 frames carrying their
sequence number in ``frame_id``. The publisher waits until it has matched the subscriber and
the subscriber has matched it (a ready file) before it sends ``--frames`` frames at the rate.
Grid: reliability best_effort / reliable x 640x480 / 1280x720 x 10 / 30 Hz x variant, where a
variant is a set of environment variables for both processes:

- ``default``: Fast DDS as the wheels ship it (shared memory + UDPv4 builtin transports);
- ``profile``: ``FASTDDS_DEFAULT_PROFILES_FILE`` = ros_ws/src/perception/config/fastdds_large_images.xml;
- ``udp_default``: ``FASTDDS_BUILTIN_TRANSPORTS=UDPv4``, what two hosts use (no shared memory);
- ``udp_profile``: the shipped profile without its shared-memory transport (its UDP socket buffers);
- ``large_data``: ``FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA`` (Fast DDS's builtin large-data set);
- ``pub_profile`` / ``sub_profile``: the shipped profile in the publisher / subscriber only.

The ``udp_*`` variants run with ``ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET``: with LOCALHOST and
shared memory off, this rmw sent most large-frame datagrams to ports nobody listened on.
Variants run interleaved (A B A B ...) ``--repeats`` times per grid cell, so machine load hits
them alike. Writes ``<out>.json`` (every run) and ``<out>.md`` (median, min-max per cell).
"""

from __future__ import annotations

import argparse
import array
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "ros_ws/src/perception/config/fastdds_large_images.xml"
VARIANTS = ("default", "profile", "udp_default", "udp_profile", "large_data", "pub_profile", "sub_profile")
ONE_SIDE = {"pub_profile": "pub", "sub_profile": "sub"}  # the profile in that process only
# Fast DDS settings a caller may have exported: each variant sets its own, nothing leaks in.
DDS_VARIABLES = (
    "FASTDDS_DEFAULT_PROFILES_FILE",
    "FASTRTPS_DEFAULT_PROFILES_FILE",
    "FASTDDS_BUILTIN_TRANSPORTS",
    "RMW_FASTRTPS_USE_QOS_FROM_XML",
    "RMW_FASTRTPS_PUBLICATION_MODE",
)
NS = "http://www.eprosima.com"
SHM_TRANSPORT = "shm_large_images"  # the profile's shared-memory transport_id


def variant_env(variant: str, workdir: Path, role: str) -> dict[str, str]:
    """Environment variables of ``variant`` for ``role``; a UDP-only profile is derived into ``workdir``."""
    if variant == "default" or ONE_SIDE.get(variant, role) != role:
        return {}
    if variant in ("profile", *ONE_SIDE):
        return {"FASTDDS_DEFAULT_PROFILES_FILE": str(PROFILE)}
    if variant == "udp_default":
        return {"FASTDDS_BUILTIN_TRANSPORTS": "UDPv4", "ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET"}
    if variant == "udp_profile":
        ET.register_namespace("", NS)
        tree = ET.parse(PROFILE)
        for transports in tree.iter(f"{{{NS}}}userTransports"):
            for transport in list(transports):
                if transport.text == SHM_TRANSPORT:
                    transports.remove(transport)
        udp_only = workdir / "fastdds_udp_only.xml"
        tree.write(udp_only, encoding="UTF-8", xml_declaration=True)
        return {"FASTDDS_DEFAULT_PROFILES_FILE": str(udp_only), "ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET"}
    if variant == "large_data":
        return {"FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA"}
    raise SystemExit(f"unknown variant {variant!r}: one of {VARIANTS}")


TOPIC = "bench_image"
DEPTH = 5


def qos(reliability: str):
    """KEEP_LAST depth-5 volatile QoS with the given reliability (sensor-data profile shape)."""
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

    policy = ReliabilityPolicy.BEST_EFFORT if reliability == "best_effort" else ReliabilityPolicy.RELIABLE
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=DEPTH, reliability=policy)


def spin_until(node, condition, timeout_s: float) -> bool:
    """Spin ``node`` until ``condition()`` holds or ``timeout_s`` passes; whether it held."""
    import rclpy

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        rclpy.spin_once(node, timeout_sec=0.02)
    return condition()


def subscriber(args: argparse.Namespace) -> None:
    """Count distinct frames until the publisher's done file appears (plus a grace second)."""
    import rclpy
    from rclpy.event_handler import SubscriptionEventCallbacks
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node("bench_image_sub")
    seen: set[int] = set()
    lost = [0]  # what the rmw's message-lost event says DDS dropped: can a node count it?

    def on_lost(info) -> None:
        lost[0] = info.total_count

    node.create_subscription(
        Image,
        TOPIC,
        lambda msg: seen.add(int(msg.header.frame_id)),
        qos(args.reliability),
        event_callbacks=SubscriptionEventCallbacks(message_lost=on_lost),
    )
    handshake = Path(args.handshake)
    matched = spin_until(node, lambda: node.count_publishers(TOPIC) > 0, args.timeout)
    (handshake / "sub_ready").touch()
    done = handshake / "pub_done"
    spin_until(node, lambda: done.exists() or len(seen) >= args.frames, args.timeout)
    spin_until(node, lambda: len(seen) >= args.frames, 1.0)
    print(json.dumps({"received": len(seen), "lost_reported": lost[0], "matched": matched}), flush=True)
    node.destroy_node()
    rclpy.shutdown()


def publisher(args: argparse.Namespace) -> None:
    """Send ``--frames`` bgr8 frames at ``--rate`` once both sides have matched."""
    import rclpy
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node("bench_image_pub")
    pub = node.create_publisher(Image, TOPIC, qos(args.reliability))
    width, height = (int(v) for v in args.size.split("x"))
    msg = Image(width=width, height=height, encoding="bgr8", step=width * 3)
    msg.data = array.array("B", os.urandom(width * height * 3))  # incompressible, set once
    handshake = Path(args.handshake)
    ready = spin_until(
        node, lambda: pub.get_subscription_count() > 0 and (handshake / "sub_ready").exists(), args.timeout
    )
    period = 1.0 / args.rate
    start = time.monotonic()
    for seq in range(args.frames if ready else 0):
        time.sleep(max(0.0, start + seq * period - time.monotonic()))
        msg.header.frame_id = str(seq)
        msg.header.stamp = node.get_clock().now().to_msg()
        pub.publish(msg)
    late_s = time.monotonic() - start - (args.frames - 1) * period
    spin_until(node, lambda: False, 0.3)  # let reliable repairs go out before the done file
    (handshake / "pub_done").touch()
    print(json.dumps({"sent": args.frames if ready else 0, "late_s": round(late_s, 3)}), flush=True)
    node.destroy_node()
    rclpy.shutdown()


def run_once(variant: str, reliability: str, size: str, rate: float, frames: int, timeout: float) -> dict:
    """One subscriber + publisher pair in fresh processes; their counts."""
    common = ["--reliability", reliability, "--size", size, "--rate", str(rate), "--frames", str(frames)]
    with tempfile.TemporaryDirectory(prefix="bench_image_") as handshake:
        base = {k: v for k, v in os.environ.items() if k not in DDS_VARIABLES}
        common += ["--handshake", handshake, "--timeout", str(timeout)]
        processes = {}
        for role in ("sub", "pub"):
            env = {**base, **variant_env(variant, Path(handshake), role)}
            processes[role] = subprocess.Popen(
                [sys.executable, __file__, "--role", role, *common],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        sub, pub = processes["sub"], processes["pub"]
        limit = 2 * timeout + frames / rate
        pub_out, pub_err = pub.communicate(timeout=limit)
        sub_out, sub_err = sub.communicate(timeout=limit)
    result = {"variant": variant, "reliability": reliability, "size": size, "rate_hz": rate}
    result.update(json.loads(pub_out.strip().splitlines()[-1]))
    result.update(json.loads(sub_out.strip().splitlines()[-1]))
    # Fast DDS reports a profile it cannot parse or apply on stderr and carries on with defaults.
    plain = re.sub(r"\x1b\[[0-9;]*m", "", pub_err + sub_err)  # Fast DDS colours its log
    result["dds_errors"] = [line for line in plain.splitlines() if "Error" in line]
    return result


def summarize(runs: list[dict], variants: list[str]) -> list[dict]:
    """Median and range of delivered percent per (reliability, size, rate, variant)."""
    rows = []
    keys = dict.fromkeys((r["reliability"], r["size"], r["rate_hz"]) for r in runs)  # in run order
    for reliability, size, rate in keys:
        for variant in variants:
            cell = [
                r
                for r in runs
                if (r["reliability"], r["size"], r["rate_hz"], r["variant"])
                == (reliability, size, rate, variant)
            ]
            pct = [100.0 * r["received"] / r["sent"] if r["sent"] else 0.0 for r in cell]
            rows.append(
                {
                    "reliability": reliability,
                    "size": size,
                    "rate_hz": rate,
                    "variant": variant,
                    "median_pct": statistics.median(pct),
                    "min_pct": min(pct),
                    "max_pct": max(pct),
                    "received": [r["received"] for r in cell],
                    "sent": [r["sent"] for r in cell],
                }
            )
    return rows


def markdown(rows: list[dict], variants: list[str], meta: dict) -> str:
    """One line per (reliability, size, rate): median delivered % (min-max) per variant."""
    lines = [
        f"Delivered / sent, median (min-max) over {meta['repeats']} interleaved runs of {meta['frames']} "
        f"frames each; {meta['date']}, {meta['machine']}, load average before: {meta['load_before']}, "
        f"after: {meta['load_after']}.",
        "",
        f"`{meta['command']}`",
        "",
        "| reliability | size | Hz | " + " | ".join(variants) + " |",
        "|---|---|---|" + "---|" * len(variants),
    ]
    cells: dict[tuple, dict[str, str]] = {}
    for row in rows:
        key = (row["reliability"], row["size"], row["rate_hz"])
        text = f"{row['median_pct']:.0f}% ({row['min_pct']:.0f}-{row['max_pct']:.0f})"
        cells.setdefault(key, {})[row["variant"]] = text
    for (reliability, size, rate), by_variant in cells.items():
        lines.append(
            f"| {reliability} | {size} | {rate:g} | " + " | ".join(by_variant[v] for v in variants) + " |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--role", choices=("driver", "pub", "sub"), default="driver")
    parser.add_argument("--reliability", choices=("best_effort", "reliable"), default="best_effort")
    parser.add_argument("--size", default="640x480", help="frame WxH (pub/sub roles)")
    parser.add_argument("--rate", type=float, default=10.0, help="frames per second (pub/sub roles)")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--handshake", help="folder for the ready/done files (pub/sub roles)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for matching")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", default="default,profile,udp_default,udp_profile")
    parser.add_argument("--reliabilities", default="best_effort,reliable")
    parser.add_argument("--sizes", default="640x480,1280x720")
    parser.add_argument("--rates", default="10,30")
    parser.add_argument("--out", type=Path, help="write <out>.json and <out>.md")
    args = parser.parse_args()
    if args.role == "pub":
        return publisher(args)
    if args.role == "sub":
        return subscriber(args)
    variants = args.variants.split(",")
    meta = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}",
        "load_before": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "frames": args.frames,
        "repeats": args.repeats,
        "command": "python " + " ".join([str(Path(__file__).relative_to(REPO)), *sys.argv[1:]]),
        "rmem_default": Path("/proc/sys/net/core/rmem_default").read_text().strip(),
        "rmem_max": Path("/proc/sys/net/core/rmem_max").read_text().strip(),
    }
    runs = []
    for reliability in args.reliabilities.split(","):
        for size in args.sizes.split(","):
            for rate in (float(r) for r in args.rates.split(",")):
                for _ in range(args.repeats):
                    for variant in variants:
                        run = run_once(variant, reliability, size, rate, args.frames, args.timeout)
                        print(json.dumps(run), flush=True)
                        runs.append(run)
    meta["load_after"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    rows = summarize(runs, variants)
    table = markdown(rows, variants, meta)
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(
            json.dumps({"meta": meta, "rows": rows, "runs": runs}, indent=1) + "\n"
        )
        args.out.with_suffix(".md").write_text(f"# Image transport: {meta['date']}\n\n{table}")


if __name__ == "__main__":
    main()
