"""``python -m perception_training.ood.evaluate``: how well each artifact's domain score separates
the synthetic world from real photos and broken frames, for the Mahalanobis distance the nodes
use and for the energy score it was compared with.

Per artifact: false alarms on held-out scenes of a world seed no model or calibration used
(``--seed``, default 61), the share of real-photo frames flagged (the evaluation photos of
``real_photos``), the share of each kind of degenerate frame flagged, and the AUROC of
in-domain against real. Both scores are thresholded at the same false-alarm rate on the same
calibration scenes (the artifact's calibration). Writes docs/ood/results.json, a histogram per
artifact (docs/ood/<name>.png) and the table between the markers in docs/ood.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from torchmetrics.functional.classification import binary_auroc

from perception.core.artifacts import read_metadata
from perception.core.domain import load_statistics
from perception_training.engine.tables import markdown_table
from perception_training.ood.probes import measure_all, open_probe
from perception_training.ood.real_photos import DEGENERATE, EVALUATION, PHOTOS, evaluation_frames
from perception_training.ood.sources import View, held_out_images, training_kinds, views
from perception_training.synthetic import KINDS

LOG = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = (
    "detector/yolo11n_synthetic.safetensors",
    "glass/mobilenet_v2_glass.safetensors",
    "captioner/mnv3_gru_en.safetensors",
    "captioner/mnv3_gru_ko.safetensors",
)
EVAL_SEED = 61
EVAL_SPLIT = "test"
DEGENERATE_SPLIT = "ood-degenerate"
TABLE_START, TABLE_END = "<!-- ood-table:start -->", "<!-- ood-table:end -->"
PROG = "python -m perception_training.ood.evaluate"


def rate(flags: np.ndarray) -> dict[str, Any]:
    return {"flagged": int(flags.sum()), "of": int(flags.size), "rate": round(float(flags.mean()), 4)}


def auroc(in_domain: np.ndarray, real: np.ndarray) -> float:
    scores = torch.from_numpy(np.concatenate([in_domain, real]).astype(np.float32))
    labels = torch.cat([torch.zeros(len(in_domain)), torch.ones(len(real))]).long()
    return round(float(binary_auroc(scores, labels)), 4)


def evaluate_artifact(path: Path, held_out: int, degenerate: int, seed: int) -> dict[str, Any]:
    """Both scores of one artifact on every image set; ``raw`` keeps the values for the plot."""
    metadata = read_metadata(path)
    first, *other_views = views(metadata)
    probes = {view.input_size: open_probe(path, view.input_size)[0] for view in (first, *other_views)}
    probe, kind = probes[first.input_size], metadata["kind"]
    statistics = load_statistics(path)
    if statistics is None:
        raise SystemExit(
            f"{path} has no domain statistics; run `perception-train ood-calibrate --artifact {path}`"
        )
    calibration = statistics.info["calibration"]
    rng = np.random.default_rng(seed)
    bases = list(held_out_images(metadata, seed, DEGENERATE_SPLIT, degenerate))
    # "mixed+knife" (scene_spec's KIND+NAME) is a "mixed" scene; glass crops and sign clips stay as named
    trained_on = {kind.partition("+")[0] for kind in training_kinds(metadata)}
    other_kinds = [k for k in KINDS if k not in trained_on] if trained_on <= set(KINDS) else []
    sets = {
        "calibration": held_out_images(
            metadata, calibration["seed"], calibration["split"], calibration["images"]
        ),
        "in_domain": held_out_images(metadata, seed, EVAL_SPLIT, held_out),
        "real": evaluation_frames(),
        **{name: [make(image, rng) for image in bases] for name, make in DEGENERATE.items()},
        **{
            f"kind {kind}": held_out_images(metadata, seed, EVAL_SPLIT, held_out // 4, [kind])
            for kind in other_kinds
        },
    }
    # the other views (a detector's 720p frames and input sizes): (set, probe) per label
    viewed = {
        view_label(view): (held_out_images(metadata, seed, EVAL_SPLIT, held_out // 4, size=view.camera), view)
        for view in other_views
    }
    viewed.update(
        {f"real photos at {size} px": (evaluation_frames(), View(input_size=size)) for size in probes}
        if other_views
        else {}
    )
    scores: dict[str, dict[str, np.ndarray]] = {"mahalanobis": {}, "energy": {}}
    measured = [(name, images, probe) for name, images in sets.items()]
    measured += [(name, images, probes[view.input_size]) for name, (images, view) in viewed.items()]
    for name, images, used in measured:
        LOG.info("%s: %s", path.name, name)
        features, energies = measure_all(used, images)
        scores["mahalanobis"][name] = statistics.distances(features) / statistics.threshold
        scores["energy"][name] = energies
    rate_target = float(statistics.info["false_alarm_rate"])
    result: dict[str, Any] = {"artifact": str(path), "kind": kind}
    for score, values in scores.items():
        threshold = (
            1.0
            if score == "mahalanobis"
            else float(np.quantile(values["calibration"], 1.0 - rate_target, method="higher"))
        )
        result[score] = {
            "threshold": round(threshold, 4),
            "false_alarms": rate(values["in_domain"] > threshold),
            "real_flagged": rate(values["real"] > threshold),
            "degenerate_flagged": {name: rate(values[name] > threshold) for name in DEGENERATE},
            "other_kinds_flagged": {kind: rate(values[f"kind {kind}"] > threshold) for kind in other_kinds},
            "other_views_flagged": {name: rate(values[name] > threshold) for name in viewed},
            "auroc_real": auroc(values["in_domain"], values["real"]),
            "raw": values,
        }
    return result


def plot(result: dict[str, Any], out: Path) -> Path:
    """Histograms of in-domain, real and degenerate scores with each score's threshold."""
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for axis, score in zip(axes, ("mahalanobis", "energy"), strict=True):
        raw = result[score]["raw"]
        degenerate = np.concatenate([raw[name] for name in DEGENERATE])
        groups = {
            "in-domain (held-out seed)": raw["in_domain"],
            "real photos": raw["real"],
            "degenerate": degenerate,
        }
        values = np.concatenate(list(groups.values()))
        log_x = score == "mahalanobis"
        edges = (
            np.geomspace(max(values.min(), 1e-3), values.max(), 50)
            if log_x
            else np.linspace(values.min(), values.max(), 50)
        )
        for label, group in groups.items():
            axis.hist(group, bins=edges, alpha=0.55, label=f"{label} ({len(group)})")
        axis.axvline(result[score]["threshold"], color="black", linestyle="--", label="threshold")
        if log_x:
            axis.set_xscale("log")
        axis.set_xlabel("distance / threshold" if log_x else "energy (-logsumexp of logits)")
        axis.set_ylabel("frames")
        axis.set_title(f"{Path(result['artifact']).stem}: {score}")
        axis.legend(fontsize=7)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=90)
    plt.close(figure)
    return out


def table(results: Sequence[dict[str, Any]], command: str) -> str:
    """The Markdown table of every artifact and score."""
    first = ["model", "score", "in-domain false alarms", "real frames flagged", "AUROC in vs real"]
    columns = [
        *first,
        *DEGENERATE,
        "synthetic scenes of kinds it was not trained on",
        "other camera and input sizes (detector)",
    ]
    rows = [_row(result, score) for result in results for score in ("mahalanobis", "energy")]
    return "\n".join([*markdown_table(columns, rows), "", f"Reproduce: `{command}`"])


def _row(result: dict[str, Any], score: str) -> list[str]:
    entry = result[score]
    return [
        Path(result["artifact"]).stem,
        score,
        fraction(entry["false_alarms"]),
        fraction(entry["real_flagged"]),
        f"{entry['auroc_real']:.3f}",
        *(fraction(entry["degenerate_flagged"][name]) for name in DEGENERATE),
        _listed(entry["other_kinds_flagged"]),
        _listed(entry["other_views_flagged"]),
    ]


def view_label(view: View) -> str:
    return f"{view.camera[0]}x{view.camera[1]} at {view.input_size} px"


def _listed(flagged: dict[str, Any]) -> str:
    return ", ".join(f"{name} {fraction(counts)}" for name, counts in flagged.items()) or "-"


def fraction(counts: dict[str, Any]) -> str:
    return f"{counts['flagged']}/{counts['of']} ({100 * counts['rate']:.1f} %)"


def write_table(page: Path, text: str, markers: tuple[str, str] = (TABLE_START, TABLE_END)) -> None:
    """Replace what lies between the table ``markers`` of ``page``."""
    content = page.read_text()
    start, end = content.index(markers[0]) + len(markers[0]), content.index(markers[1])
    page.write_text(content[:start] + "\n" + text + "\n" + content[end:])


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models-dir", type=Path, default=REPO_ROOT / "models")
    parser.add_argument("--artifacts", nargs="+", default=list(ARTIFACTS), help="paths under --models-dir")
    parser.add_argument("--seed", type=int, default=EVAL_SEED, help="world seed of the held-out scenes")
    parser.add_argument("--held-out", type=int, default=400, help="held-out in-domain frames")
    parser.add_argument("--degenerate", type=int, default=20, help="frames of each degenerate kind")
    parser.add_argument("--docs", type=Path, default=REPO_ROOT / "docs", help="where ood.md and ood/ live")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    command = shlex.join([*PROG.split(), *argv])
    results = [
        evaluate_artifact(args.models_dir / name, args.held_out, args.degenerate, args.seed)
        for name in args.artifacts
    ]
    for result in results:
        plot(result, args.docs / "ood" / f"{Path(result['artifact']).stem}.png")
    report = {
        "command": command,
        "seed": args.seed,
        "photos": {name: PHOTOS[name] for name in EVALUATION},
        "results": [
            {
                **{key: value for key, value in result.items() if key not in ("mahalanobis", "energy")},
                "artifact": Path(result["artifact"]).relative_to(args.models_dir).as_posix(),
                "model": read_metadata(result["artifact"]).get("architecture"),
                **{
                    score: {key: value for key, value in result[score].items() if key != "raw"}
                    for score in ("mahalanobis", "energy")
                },
            }
            for result in results
        ],
    }
    (args.docs / "ood").mkdir(parents=True, exist_ok=True)
    (args.docs / "ood" / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    write_table(args.docs / "ood.md", table(results, command))
    print(table(results, command))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
