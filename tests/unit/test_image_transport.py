"""The shipped Fast DDS profile for camera images parses, loads and keeps best-effort frames.

Without it, Fast DDS's 512 KiB shared-memory segment delivered 0-15% of best-effort 640x480
frames between two processes here (docs/transport.md), so the live test fails without the fix.
"""

from __future__ import annotations

import importlib.util
import runpy
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import setuptools

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "ros_ws/src/perception/config/fastdds_large_images.xml"
NS = {"dds": "http://www.eprosima.com"}
FRAME_1080P_BGR8 = 1920 * 1080 * 3


BENCHMARK = REPO / "benchmarks/bench_image_transport.py"


def load_benchmark():
    """benchmarks/bench_image_transport.py: the publisher/subscriber processes the test runs."""
    spec = importlib.util.spec_from_file_location("bench_image_transport", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_profile_is_the_default_participant_profile_with_large_shared_memory() -> None:
    root = ET.parse(PROFILE).getroot()
    descriptors = {
        d.findtext("dds:transport_id", namespaces=NS): d
        for d in root.iterfind("dds:profiles/dds:transport_descriptors/dds:transport_descriptor", NS)
    }
    (participant,) = root.iterfind("dds:profiles/dds:participant", NS)
    assert participant.get("is_default_profile") == "true"  # rmw_fastrtps only applies the default one
    assert participant.findtext("dds:rtps/dds:useBuiltinTransports", namespaces=NS) == "false"
    used = [t.text for t in participant.iterfind("dds:rtps/dds:userTransports/dds:transport_id", NS)]
    by_type = {descriptors[name].findtext("dds:type", namespaces=NS): descriptors[name] for name in used}
    assert sorted(by_type) == ["SHM", "UDPv4"]
    assert int(by_type["SHM"].findtext("dds:segment_size", namespaces=NS)) >= 2 * FRAME_1080P_BGR8


def test_setup_installs_the_profile_with_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    package = PROFILE.parents[1]
    captured: dict = {}
    monkeypatch.chdir(package)
    monkeypatch.setattr(setuptools, "setup", lambda **kwargs: captured.update(kwargs))
    runpy.run_path(str(package / "setup.py"))
    installed = dict(captured["data_files"])["share/perception/config"]
    assert f"config/{PROFILE.name}" in installed


def test_best_effort_640x480_frames_arrive_between_processes_with_the_profile() -> None:
    bench = load_benchmark()
    run = bench.run_once("profile", "best_effort", "640x480", rate=10.0, frames=20, timeout=30.0)
    assert run["dds_errors"] == [], "Fast DDS rejected the profile"
    assert run["sent"] == 20, "the publisher never matched the subscriber"
    assert run["received"] >= 18, f"{run['received']}/20 best-effort frames arrived with the profile"
