"""The node-graph runner's memory sampler (benchmarks/bench_single_process.py reads it): per
process peaks of RSS, USS and PSS, and the peak of the sums over the graph's processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from perception_training.bags.bag_graph import _Processes

HOLD_MIB = 64


def test_peaks_of_each_process_and_of_the_graph_sum(tmp_path: Path) -> None:
    hold = f"import time; block = b'x' * ({HOLD_MIB} << 20); time.sleep(30)"  # every page written
    running = {name: subprocess.Popen([sys.executable, "-c", hold]) for name in ("a", "b")}
    try:
        procs = _Processes(running, {name: tmp_path / name for name in running}, measure_uss=True)
        stop = threading.Event()
        sampler = threading.Thread(target=procs.sample_memory, args=(stop, 0.05))
        sampler.start()
        time.sleep(2.0)
        stop.set()
        sampler.join()
    finally:
        for proc in running.values():
            proc.kill()
            proc.wait()
    held = HOLD_MIB << 20
    for name in running:
        assert procs.peak_uss[name] >= held and procs.peak_pss[name] >= held  # its own touched pages
        assert procs.peak_pss[name] >= procs.peak_uss[name]  # plus its share of the shared ones
        assert procs.peak_rss[name] >= procs.peak_pss[name]
    assert procs.peak_total_pss >= 2 * held and procs.peak_total_uss >= 2 * held
    assert procs.peak_total_pss <= sum(procs.peak_pss.values())
