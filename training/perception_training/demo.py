"""`make demo`: the perception stack on generated data, end to end, on one machine.

1. Make sure the demo detector exists in models/ (train it when missing: about 15 minutes).
2. Write a held-out synthetic camera bag (real rosbag2, mcap) with its ground truth.
3. Start the launch graph's nodes as processes (detector, plus glass / caption / hazard when
   their models are in models/; with ``--single-process`` all in one process, as the launch
   argument ``single_process:=true`` runs them), replay the bag into them over DDS, record what
   they publish.
4. When the sign model is in models/, do the same with a held-out continuous-signing bag and
   sign_node, and score its words against the bag's ground truth.
5. Print a summary (frames, drops, detections per class, mAP50 against the ground truth,
   captions, hazard alerts, sign words) and write annotated frames as PNGs and an MP4 into the
   output folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from perception.bags.reading import read_messages
from perception.bringup.graph import NODE_FACTORIES, GraphOptions, build_graph
from perception.core.artifacts import read_metadata
from perception.core.detection_metrics import map50
from perception.core.images import image_to_numpy, to_bgr8
from perception.core.sign import clip_duration
from perception.nodes.framework.conversions import detection_from_msg
from perception.nodes.topics import DIAGNOSTICS_TOPIC
from perception_training.bags.bag_graph import DEFAULT_MODELS_DIR, GraphRun, run_graph_on_bag
from perception_training.bags.synthetic import write_synthetic_bag
from perception_training.bags.synthetic_sign import write_synthetic_sign_bag
from perception_training.sign.bag_score import score_recorded

LOG = logging.getLogger("perception_training.demo")
REPO_ROOT = Path(__file__).resolve().parents[2]
DETECTOR_MODEL = "detector/yolo11n_synthetic.safetensors"
# Optional nodes and the model each needs; a node joins the demo when its model is present.
OPTIONAL_NODES = {
    "glass": "glass/mobilenet_v2_glass.safetensors",
    "caption": "captioner/mnv3_gru_en.safetensors",
    "hazard": "captioner/mnv3_gru_en.safetensors",
}
NOT_RECORDED = {DIAGNOSTICS_TOPIC}
SIGN_MODEL = "sign/x3d_xs_sign.safetensors"
SIGN_SEED = 43  # held out: no sign model was trained, validated or tuned on it
SIGN_SECONDS, SIGN_FPS, SIGN_STRIDE_S = 20.0, 15.0, 0.25  # SIGN_STRIDE_S: config/desktop.yaml


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="perception-demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "out" / "demo", help="output (replaced)")
    parser.add_argument("--frames", type=int, default=40, help="frames in the synthetic bag")
    parser.add_argument("--seed", type=int, default=11, help="world seed of the held-out bag")
    parser.add_argument("--rate", type=float, default=0.5, help="replay speed factor (CPU-friendly)")
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    parser.add_argument(
        "--single-process", action="store_true", help="every node in one process (single_process:=true)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] %(name)s: %(message)s")

    ensure_detector(args.models_dir)
    nodes = ["detector"] + [
        name
        for name, model in OPTIONAL_NODES.items()
        if name in NODE_FACTORIES and (args.models_dir / model).is_file()
    ]
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    bag = write_synthetic_bag(
        args.out / "input_bag", args.frames, fps=10, seed=args.seed, split="test", kind="mixed"
    )
    record = recorded_topics(nodes)
    LOG.info("running %s on %s, recording %s", nodes, bag, record)
    run = run_graph_on_bag(
        bag,
        args.out / "run",
        nodes,
        record,
        models_dir=args.models_dir,
        rate=args.rate,
        single_process=args.single_process,
    )
    summary = summarise(bag, run, args.frames)
    summary["peak_rss_mib_per_node"] = run.peak_rss_mib
    if "sign" in NODE_FACTORIES and (args.models_dir / SIGN_MODEL).is_file():
        summary.update(sign_summary(args.out, args.models_dir, args.single_process))
    summary["frames_written"] = write_annotated_frames(run.recorded, args.out)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    print(format_summary(summary, args.out))
    return 0


def ensure_detector(models_dir: Path) -> None:
    """Train the demo detector when models/ lacks it (a clean clone has it committed)."""
    if (models_dir / DETECTOR_MODEL).is_file():
        return
    from perception_training.detector.train import main as train_detector

    LOG.warning("%s missing: training it now (about 15 minutes on 2 CPU cores)", DETECTOR_MODEL)
    if train_detector(["--out", str(models_dir / DETECTOR_MODEL)], prog="perception-train detector") != 0:
        raise SystemExit("training the demo detector failed; see the log above")


def recorded_topics(nodes: Sequence[str]) -> list[str]:
    """Every output topic of the chosen nodes except diagnostics, rviz markers and the optional
    ones (``detections_2d`` is vision_msgs, which the bag recorder has no definition of)."""
    graph = build_graph(nodes, GraphOptions())
    topics = [
        topic
        for spec in graph
        for topic in spec.publishes
        if topic not in NOT_RECORDED and topic not in spec.optional and not topic.endswith("markers")
    ]
    return list(dict.fromkeys(topics))


def summarise(bag: Path, run: GraphRun, frames: int) -> dict[str, Any]:
    """Counts and scores of what the nodes published, against the bag's ground truth."""
    truth = {_stamp(m.header): m for _, _, m in read_messages(bag, ["/ground_truth/detections"])}
    by_type: dict[str, list[Any]] = {}
    for _, _, msg in read_messages(run.recorded):
        by_type.setdefault(type(msg).__name__.split("__")[-1], []).append(msg)
    detections = by_type.get("DetectionArray", [])
    summary: dict[str, Any] = {
        "frames_in_bag": frames,
        "frames_detected": len(detections),
        "frames_dropped_or_pending": frames - len(detections),
        "detections_per_class": dict(
            Counter(d.class_name for array in detections for d in array.detections).most_common()
        ),
    }
    if detections:
        score = map50(
            [[detection_from_msg(d) for d in a.detections] for a in detections],
            [[detection_from_msg(d) for d in truth[_stamp(a.header)].detections] for a in detections],
        )
        summary["map50"] = round(score.map50, 3)
        summary["ap50_per_class"] = {k: round(v, 3) for k, v in score.per_class.items()}
    glasses = by_type.get("GlassClassificationArray", [])
    if glasses:
        summary["glass_types"] = dict(Counter(g.glass_type for a in glasses for g in a.glasses).most_common())
        summary["fragile_glasses"] = sum(g.fragile for a in glasses for g in a.glasses)
    captions = by_type.get("Caption", [])
    if captions:
        summary["captions"] = len(captions)
        summary["caption_samples"] = [c.text for c in captions[:5]]
    alerts = by_type.get("HazardAlert", [])
    if "hazard_node" in run.logs:
        summary["hazard_alerts"] = [f"{a.hazard} (severity {a.severity}): {a.message}" for a in alerts]
    return summary


def sign_summary(out: Path, models_dir: Path, single_process: bool = False) -> dict[str, Any]:
    """sign_node on a held-out continuous-signing bag, scored against the bag's words."""
    bag = write_synthetic_sign_bag(
        out / "sign_bag", round(SIGN_SECONDS * SIGN_FPS), fps=SIGN_FPS, seed=SIGN_SEED, split="test"
    )
    LOG.info("running sign on %s", bag)
    run = run_graph_on_bag(
        bag, out / "sign_run", ["sign"], ["sign"], models_dir=models_dir, single_process=single_process
    )
    clip_s = clip_duration(read_metadata(models_dir / SIGN_MODEL))
    score = score_recorded(bag, run.recorded, clip_s, SIGN_STRIDE_S)
    return {
        "sign_words_recognised": f"{score.recognised}/{score.segments}",
        "sign_idle_clips_with_a_word": f"{score.idle_words}/{score.idle_clips}",
        "sign_wrong_words_over_signs": score.wrong_words,
        "sign_words_published": [o.word for o in score.published[:12]],
    }


def write_annotated_frames(recorded: Path, out: Path) -> int:
    """Debug images as PNGs (out/frames) and an MP4 (out/detections.mp4); return how many."""
    frames_dir = out / "frames"
    frames_dir.mkdir(exist_ok=True)
    writer = None
    count = 0
    for _, _, msg in read_messages(recorded, ["/perception/debug_image"]):
        bgr = np.ascontiguousarray(to_bgr8(image_to_numpy(msg), msg.encoding))
        cv2.imwrite(str(frames_dir / f"frame_{count:04d}.png"), bgr)
        if writer is None:
            fourcc = cv2.VideoWriter.fourcc(*"mp4v")
            writer = cv2.VideoWriter(str(out / "detections.mp4"), fourcc, 5.0, (bgr.shape[1], bgr.shape[0]))
        writer.write(bgr)
        count += 1
    if writer is not None:
        writer.release()
    return count


def format_summary(summary: dict[str, Any], out: Path) -> str:
    lines = ["", "perception demo summary", "======================="]
    lines += [f"{key}: {value}" for key, value in summary.items()]
    lines += [f"annotated frames: {out / 'frames'}  video: {out / 'detections.mp4'}", ""]
    return "\n".join(lines)


def _stamp(header: Any) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


if __name__ == "__main__":
    raise SystemExit(main())
