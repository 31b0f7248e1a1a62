"""Hostile and degenerate inputs (issue 10): each is refused with a clear reason, counted, and
the next good message is processed. Nodes run in-process with test-double models."""

from __future__ import annotations

import math
import struct
import zlib

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from sensor_msgs.msg import CompressedImage, Image
from test_caption_node import BrightnessCaptioner, fake_factory
from test_caption_node import start as start_captioner
from test_detector_node import image_msg, scene, stamps
from test_detector_node import start as start_detector
from test_glass_node import Wiring, colour_factory, detections_msg
from test_glass_node import image_msg as glass_image_msg
from test_glass_node import scene as glass_scene
from test_glass_node import start as start_glass
from test_hazard_node import caption
from test_hazard_node import start as start_hazard

from perception.core.detections import Detection
from perception.core.images import numpy_to_compressed
from perception.nodes.framework.stamp_cache import StampCache
from perception_msgs.msg import Caption, DetectionArray, HazardAlert

QUEUED = {"image_reliability": "reliable", "image_queue_depth": 100}  # no frame lost between test and node


def png_declaring(width: int, height: int, rows: int = 0) -> bytes:
    """A grey PNG whose header declares ``width`` x ``height``; ``rows`` rows of zeros follow.

    12000 zero rows compress to about 140 kB: the decompression bomb of the attack report.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(9)
    row = bytes(width + 1)
    body = b"".join(packer.compress(row) for _ in range(rows)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def compressed(data: bytes, sec: int) -> CompressedImage:
    msg = CompressedImage(format="png", data=data)
    msg.header.stamp.sec = sec
    return msg


@pytest.mark.parametrize(
    ("name", "png", "reason"),
    [
        ("bomb", png_declaring(12000, 12000, rows=12000), "12000x12000 = 144000000 pixels exceeds"),
        ("forged", png_declaring(100_000, 100_000, rows=1), "declares a size far beyond any camera"),
    ],
)
def test_decompression_bombs_and_forged_headers_are_refused_before_decoding(
    ros, model_file, capfd, name: str, png: bytes, reason: str
):
    params = {"model_path": str(model_file), "compressed_input": True, **QUEUED}
    node = start_detector(ros, params, namespace=f"/{name}")
    detections = ros.collect(DetectionArray, f"/{name}/detections")
    assert node.autostart()
    images = ros.publisher(CompressedImage, f"/{name}/image/compressed")
    ros.wait_matched(images)
    assert len(png) < 300_000
    images.publish(compressed(png, sec=1))
    good = numpy_to_compressed(scene(), "png")
    good.header.stamp.sec = 9
    images.publish(good)
    assert ros.wait_for(lambda: stamps(detections) == [9])
    assert node.counters["bad_frames"] == 1
    assert node.counters["failed"] == 0, "refused frames are bad frames, not failures"
    assert reason in capfd.readouterr().err


def test_max_image_pixels_applies_to_raw_images(ros, model_file):
    params = {"model_path": str(model_file), "max_image_pixels": 320 * 240, **QUEUED}
    node = start_detector(ros, params)
    detections = ros.collect(DetectionArray, "detections")
    assert node.autostart()
    images = ros.publisher(Image, "image")
    ros.wait_matched(images)
    images.publish(image_msg(scene(640, 480), sec=1))
    images.publish(image_msg(scene(320, 240, (10, 10, 100, 100)), sec=2))
    assert ros.wait_for(lambda: stamps(detections) == [2])
    assert node.counters["bad_frames"] == 1


@pytest.mark.parametrize(("width", "height"), [(3, 3), (4096, 1), (1, 4096)])
def test_degenerate_frames_are_not_captioned(ros, model_file, width: int, height: int, capfd):
    captioner = BrightnessCaptioner()
    captioner.image_size = 160
    node = start_captioner(
        ros,
        {"model_path": str(model_file), **QUEUED},
        fake_factory(captioner),
        namespace=f"/c{width}x{height}",
    )
    captions = ros.collect(Caption, f"/c{width}x{height}/caption")
    images = ros.publisher(Image, f"/c{width}x{height}/image")
    ros.wait_matched(images)
    images.publish(image_msg(np.full((height, width, 3), 200, np.uint8), sec=1))
    images.publish(image_msg(np.full((120, 160, 3), 200, np.uint8), sec=2))
    assert ros.wait_for(lambda: [c.header.stamp.sec for c in captions] == [2])
    assert node.counters["bad_frames"] == 1 and node.min_image_side == 40
    assert f"image of {width}x{height} is smaller than min_image_side = 40 px" in capfd.readouterr().err


def test_glass_node_skips_non_finite_boxes_keeps_the_rest_and_caps_box_count(ros, model_file):
    node = start_glass(ros, {"model_path": str(model_file), "max_boxes": 2}, colour_factory())
    io = Wiring(ros)
    assert node.autostart()
    io.connect()
    image = glass_image_msg(glass_scene(), sec=5)
    boxes = [
        Detection(1, "cup", 0.9, 20, 30, 80, 110),
        Detection(1, "cup", 0.8, math.nan, 30, 80, 110),
        Detection(1, "cup", math.nan, 20, 30, 80, 110),
        Detection(1, "wine glass", 0.7, 150, 40, math.inf, 150),
        Detection(1, "wine glass", 0.6, 150, 40, 200, 150),
        Detection(1, "wine glass", 0.5, 230, 120, 300, 220),
    ]
    io.send_pair(node, image, detections_msg(image, boxes))
    assert ros.wait_for(lambda: stamps(io.glasses) == [5])
    kept = [(g.detection.class_name, round(g.detection.score, 2)) for g in io.glasses[0].glasses]
    assert kept == [("cup", 0.9), ("wine glass", 0.6)], "valid boxes survive; the lowest score is capped"
    assert (node.counters["boxes_invalid"], node.counters["boxes_capped"]) == (3, 1)
    assert node.counters["failed"] == 0


def test_glass_diagnostics_say_images_wait_for_detections(ros, model_file):
    node = start_glass(ros, {"model_path": str(model_file), "diagnostics_period_s": 0.3}, colour_factory())
    diagnostics = ros.collect(DiagnosticArray, "/diagnostics")
    io = Wiring(ros)
    assert node.autostart()
    io.connect()
    for sec in range(1, 4):
        io.images.publish(glass_image_msg(glass_scene(), sec=sec))

    def waiting_status() -> DiagnosticStatus | None:
        for array in diagnostics:
            for status in array.status:
                if "glass_node" in status.name and "paired with detections" in status.message:
                    return status
        return None

    assert ros.wait_for(lambda: waiting_status() is not None)
    status = waiting_status()
    assert status.level == DiagnosticStatus.WARN
    assert "images arrived but none was paired with detections on /detections" in status.message


def test_pairing_cache_is_bounded_in_bytes_but_keeps_the_newest_image() -> None:
    cache: StampCache[bytes] = StampCache(capacity=30, max_bytes=2500, size_of=len)
    for sec in range(10):
        cache.put((sec, 0), bytes(1000))
    assert (len(cache), cache.bytes, cache.evicted) == (2, 2000, 8)
    cache.put((99, 0), bytes(10_000))
    assert (len(cache), cache.bytes) == (1, 10_000), "an item larger than the bound is still kept alone"
    assert cache.pop((99, 0)) is not None and cache.bytes == 0


def test_nan_and_infinite_caption_scores_raise_no_alert(ros):
    node = start_hazard(ros, {"min_caption_score": 0.5})
    alerts = ros.collect(HazardAlert, "hazard_alerts")
    captions = ros.publisher(Caption, "caption")
    ros.wait_matched(captions)
    for sec, score in enumerate((math.nan, math.inf, -math.inf), start=1):
        captions.publish(caption("a knife on a table", sec, score=score))
    captions.publish(caption("a knife on a table", 10, score=0.9))
    assert ros.wait_for(lambda: alerts)
    assert [a.header.stamp.sec for a in alerts] == [10]
    assert node.counts["invalid"] == 3


def test_a_huge_caption_is_cut_and_does_not_block_the_executor(ros):
    node = start_hazard(ros, {"max_caption_chars": 300})
    alerts = ros.collect(HazardAlert, "hazard_alerts")
    captions = ros.publisher(Caption, "caption")
    ros.wait_matched(captions)
    captions.publish(caption("가나다라마" * 1000, 1))  # 5000 syllables took the tokeniser 7 s
    captions.publish(caption("a knife on a table", 2))
    assert ros.wait_for(lambda: node.counts["captions"] == 2, timeout=2.0), "the executor was blocked"
    assert ros.wait_for(lambda: alerts, timeout=5.0)
    assert node.counts["truncated"] == 1
    assert [a.header.stamp.sec for a in alerts] == [2]


def test_frames_lost_before_the_node_are_estimated_and_warned_about(ros, model_file):
    params = {"model_path": str(model_file), "diagnostics_period_s": 0.5, **QUEUED}
    node = start_detector(ros, params)
    diagnostics = ros.collect(DiagnosticArray, "/diagnostics")
    assert node.autostart()
    images = ros.publisher(Image, "image")
    ros.wait_matched(images)
    frame = scene(320, 240)
    sent = [i for i in range(60) if i < 10 or i % 3 == 0]  # a 10 Hz camera losing 2 of 3 after 1 s
    for index in sent:
        msg = image_msg(frame, sec=0)
        msg.header.stamp.sec, msg.header.stamp.nanosec = index // 10, (index % 10) * 100_000_000
        images.publish(msg)
    assert ros.wait_for(lambda: node.counters["camera_frames"] == len(sent))
    # The two frames after the last one sent cannot show as a gap.
    assert node.counters["lost_in_transport"] == 60 - len(sent) - 2
    assert ros.wait_for(
        lambda: any("lost before reaching the node" in s.message for a in diagnostics for s in a.status)
    )
