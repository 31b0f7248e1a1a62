"""perception-train sign: a two-epoch run on a tiny synthetic set writes every output and resumes."""

from __future__ import annotations

import csv
import math
from dataclasses import fields
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from perception.core.artifacts import read_metadata
from perception.core.sign import IDLE_CLASS, IDLE_GLOSS, SIGN_KIND, load_sign_model
from perception.core.video_models import resize_and_crop, video_spec
from perception_training.cli import COMMANDS
from perception_training.engine.flags import parse_config, parse_sizes
from perception_training.sign.aihub import SignSegment
from perception_training.sign.data import (
    FrameCache,
    SignClipDataset,
    clip_window,
    idle_segments,
    mirror_labels,
    overlap_s,
    read_frames,
    stream_window,
    train_transform,
)
from perception_training.sign.module import SignClassifier, model_from_checkpoint
from perception_training.sign.train import SignTrainConfig, main
from perception_training.synthetic.signing import SIGN_WORDS

SMOKE = ["--synthetic", "6", "--batch_size", "4", "--num_frames", "4", "--crop_size", "64", "--threads", "1"]
SMOKE += ["--ood_calibration", "4"]  # a few held-out clips: the statistics' format, not their quality


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, one_torch_thread: None) -> tuple[Path, Path]:
    """(run folder, artifact) of a two-epoch x3d_xs run."""
    out = tmp_path_factory.mktemp("sign_run")
    artifact = out / "models" / "x3d_xs_sign.safetensors"
    argv = [*SMOKE, "--epochs", "2", "--output_dir", str(out), "--artifact", str(artifact)]
    assert main(argv) == 0
    return out / "x3d_xs", artifact


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_a_run_writes_every_output(run: tuple[Path, Path]) -> None:
    run_dir, artifact = run
    for name in ("best.ckpt", "last.ckpt", "metrics.csv", "curves.png", "confusion_matrix.png"):
        assert (run_dir / name).stat().st_size > 0, name
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    rows = _rows(run_dir / "metrics.csv")
    assert [row["epoch"] for row in rows] == ["0", "1"]
    assert {"lr", "train_loss", "train_acc", "val_loss", "val_acc"} <= set(rows[0])
    metadata = read_metadata(artifact)
    assert metadata["kind"] == SIGN_KIND and metadata["architecture"] == "x3d_xs"
    assert metadata["classes"] == sorted([*SIGN_WORDS, IDLE_CLASS])  # background class by default
    glosses = {**SIGN_WORDS, IDLE_CLASS: IDLE_GLOSS}
    assert metadata["glosses"] == [glosses[word] for word in metadata["classes"]]
    assert (metadata["num_frames"], metadata["crop_size"]) == (4, 64)
    assert metadata["command"].startswith("perception-train sign --synthetic 6")
    assert {"val_acc", "val_loss", "epoch"} <= set(metadata["metrics"])
    same_epoch = rows[int(metadata["metrics"]["epoch"])]  # the artifact's metrics are of one epoch
    for name in ("train_loss", "val_acc"):
        assert metadata["metrics"][name] == pytest.approx(float(same_epoch[name]), rel=1e-6), name
    assert metadata["dataset"]["generator"] == "perception_training.synthetic.signing"
    assert metadata["domain"]["calibration"]["images"] == 4  # domain statistics (docs/ood.md)


@pytest.mark.slow
def test_init_from_starts_at_an_artifacts_weights_and_refuses_other_classes(run: tuple[Path, Path]) -> None:
    run_dir, artifact = run
    data = run_dir / "data"
    out = run_dir.parent / "init_from"
    argv = ["--train_data_root", str(data / "train"), "--val_data_root", str(data / "val"), *SMOKE[2:]]
    argv += ["--epochs", "1", "--learning_rate", "0", "--output_dir", str(out), "--init_from", str(artifact)]
    assert main([*argv, "--artifact", str(out / "a.safetensors")]) == 0
    metadata = read_metadata(out / "a.safetensors")
    assert metadata["initialised_from"]["weights_sha256"] == read_metadata(artifact)["weights_sha256"]
    # a synthetic folder written earlier keeps its provenance (its synthetic.json)
    assert {k: metadata["dataset"][k] for k in ("generator", "seed", "videos")} == {
        k: read_metadata(artifact)["dataset"][k] for k in ("generator", "seed", "videos")
    }
    before, after = load_sign_model(artifact)[0].state_dict(), load_sign_model(out / "a.safetensors")[0]
    weights = {k: v for k, v in after.state_dict().items() if "running" not in k and "num_batches" not in k}
    assert all(torch.equal(before[k], v) for k, v in weights.items())  # learning rate 0: unchanged
    with pytest.raises(SystemExit, match="classes"):
        main([*argv, "--no-background_class", "--artifact", str(out / "b.safetensors")])


def test_checkpoints_hold_plain_data_and_load_without_pickles(run: tuple[Path, Path]) -> None:
    run_dir, _ = run
    checkpoint = torch.load(run_dir / "last.ckpt", weights_only=True)
    assert checkpoint["hyper_parameters"]["spec"]["name"] == "x3d_xs"
    # last.ckpt holds the final epoch even when val_acc did not improve in it
    assert checkpoint["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"] == 2
    model, metadata = model_from_checkpoint(str(run_dir / "best.ckpt"))
    assert metadata["classes"] == sorted([*SIGN_WORDS, IDLE_CLASS])
    with torch.inference_mode():
        assert model(torch.zeros(1, 3, 4, 64, 64)).shape == (1, len(SIGN_WORDS) + 1)


@pytest.mark.slow
def test_resume_continues_from_last_ckpt(run: tuple[Path, Path]) -> None:
    run_dir, artifact = run
    before = _rows(run_dir / "metrics.csv")
    written = (run_dir / "data" / "train" / "synthetic.json").stat().st_mtime_ns
    argv = [
        *SMOKE,
        "--epochs",
        "3",
        "--output_dir",
        str(run_dir.parent),
        "--artifact",
        str(artifact),
        "--resume",
    ]
    assert main(argv) == 0
    after = _rows(run_dir / "metrics.csv")
    assert after[:2] == before and after[2]["epoch"] == "2"  # one more epoch, not a fresh start
    assert (run_dir / "data" / "train" / "synthetic.json").stat().st_mtime_ns == written  # data kept


def test_resume_without_a_last_ckpt_says_so(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"last\.ckpt"):
        main([*SMOKE, "--output_dir", str(tmp_path), "--resume"])


def test_every_config_field_is_a_flag_and_the_task_is_registered() -> None:
    """Every field, the engine's TrainerOptions included, is a flag under the spelling docs/sign.md
    and the reference project use (underscores); each setting below differs from its default."""
    argv = [
        "--data_root", "d", "--train_data_root", "t", "--val_data_root", "v", "--val_fraction", "0.3",
        "--seed", "1", "--no-background_class", "--idle_min_gap", "1", "--model_name", "x3d_s",
        "--init_from", "i.safetensors", "--batch_size", "2", "--epochs", "3", "--learning_rate", "0.01",
        "--optimizer", "sgd", "--scheduler", "step", "--dropout_rate", "0.1", "--weight_decay", "0",
        "--label_smoothing", "0", "--num_frames", "8", "--clip_duration", "1.5", "--min_coverage", "0.9",
        "--mirror_pairs", "a:b", "--frame_cache_mb", "0", "--crop_size", "96", "--num_workers", "2",
        "--pin_memory", "--output_dir", "o", "--experiment_name", "e", "--resume", "--artifact", "a",
        "--ood_calibration", "0", "--export_mobile_model", "--quantize_model", "--synthetic", "4",
        "--synthetic_sizes", "64x48", "--synthetic_max_gap", "1", "--synthetic_low_contrast", "0.5",
        "--device", "cpu", "--devices", "2", "--num_nodes", "2", "--strategy", "ddp", "--no-amp",
        "--precision", "bf16-mixed", "--threads", "1", "--wandb",
    ]  # fmt: skip
    config = parse_config(SignTrainConfig, argv, "perception-train sign", "")
    assert [spec.name for spec in fields(config) if getattr(config, spec.name) == spec.default] == []
    assert (config.devices, config.num_nodes, config.precision) == ("2", 2, "bf16-mixed")
    for bad in (["--model_name", "x3d_xxl"], ["--optimizer", "nadam"], ["--scheduler", "constant"]):
        with pytest.raises(SystemExit):
            parse_config(SignTrainConfig, bad, "perception-train sign", "")
    assert COMMANDS["sign"][0] == "perception_training.sign.train"


@pytest.mark.parametrize(
    ("optimizer", "scheduler", "rates"),
    [
        ("adam", "cosine", [0.1 * (1 + math.cos(math.pi * epoch / 6)) / 2 for epoch in range(6)]),
        ("sgd", "step", [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]),  # a tenth after every third of the epochs
        ("sgd", "none", [0.1] * 6),
    ],
)
def test_optimizer_and_scheduler_flags_keep_their_meaning(
    optimizer: str, scheduler: str, rates: list[float]
) -> None:
    module = SignClassifier(
        video_spec("x3d_xs").to_dict(), ["a", "b"], ["a", "b"], 1.0,
        optimizer=optimizer, scheduler=scheduler, learning_rate=0.1, weight_decay=0.01, epochs=6,
    )  # fmt: skip
    configured = module.configure_optimizers()
    chosen = configured["optimizer"]
    assert type(chosen) is {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}[optimizer]
    assert chosen.defaults["weight_decay"] == 0.01 and chosen.defaults.get("momentum", 0.9) == 0.9
    schedule = configured.get("lr_scheduler")
    assert (schedule is None) == (scheduler == "none") and (schedule or {}).get(
        "interval", "epoch"
    ) == "epoch"
    seen = []
    for _ in rates:  # one step per epoch
        seen.append(chosen.param_groups[0]["lr"])
        chosen.step()
        if schedule:
            schedule["scheduler"].step()
    assert seen == pytest.approx(rates)


def test_fixed_size_models_refuse_other_clip_shapes() -> None:
    assert SignTrainConfig(model_name="x3d_s", crop_size=96).spec().crop_size == 96
    with pytest.raises(SystemExit, match="mvit_base_16x4"):
        SignTrainConfig(model_name="mvit_base_16x4", crop_size=96).spec()


def test_clip_window_is_the_segment_or_centred_on_it() -> None:
    segment = SignSegment(Path("v.mp4"), 1.0, 2.0, "위")
    assert clip_window(segment, 0.0) == (1.0, 2.0)
    assert clip_window(segment, 2.0) == (0.5, 2.5)
    assert clip_window(SignSegment(Path("v.mp4"), 0.1, 0.3, "위"), 2.0) == (0.0, 2.0)


def test_stream_windows_hold_most_of_their_sign_little_of_the_others_and_vary() -> None:
    torch.manual_seed(0)
    video = Path("v.mp4")
    short, long_, other = (
        SignSegment(video, 1.0, 1.6, "위"),
        SignSegment(video, 3.0, 5.0, "아래"),
        SignSegment(video, 2.2, 2.8, "중앙"),
    )
    words = [short, long_, other]
    for segment, held in ((short, 0.75 * 0.6), (long_, 0.75 * 1.4)):
        windows = [stream_window(segment, words, 1.4, 0.75) for _ in range(300)]
        assert all(abs((end - start) - 1.4) < 1e-9 and start >= 0.0 for start, end in windows)
        assert all(overlap_s(w, segment) >= held - 1e-9 for w in windows)
        assert all(overlap_s(w, o) <= 0.25 * 0.6 + 1e-9 for w in windows for o in words if o != segment)
        assert np.std([start for start, _ in windows]) > 0.1  # anywhere the rule allows, not centred
    gap = SignSegment(video, 5.0, 8.0, IDLE_CLASS)
    idle = [stream_window(gap, words, 1.4, 0.75) for _ in range(300)]
    assert all(overlap_s(w, long_) <= 0.25 * 1.4 + 1e-9 for w in idle)
    assert all(5.0 <= (start + end) / 2 <= 8.0 for start, end in idle)
    squeezed = SignSegment(video, 1.6, 2.2, IDLE_CLASS)  # no window fits between two words
    assert stream_window(squeezed, words, 1.4, 0.75) == clip_window(squeezed, 1.4)


def test_synthetic_sizes_parse_and_a_bad_one_is_named() -> None:
    assert parse_sizes("160x120, 640X480", "--synthetic_sizes") == [(160, 120), (640, 480)]
    with pytest.raises(SystemExit, match="--synthetic_sizes: '640-480'"):
        parse_sizes("160x120,640-480", "--synthetic_sizes")


def test_idle_clips_come_only_from_long_enough_gaps() -> None:
    a, b = Path("a.mp4"), Path("b.mp4")
    segments = [
        SignSegment(a, 2.0, 3.0, "위"),
        SignSegment(a, 0.3, 1.5, "아래"),  # unsorted; the 0.3 s before it is too short
        SignSegment(a, 3.2, 4.0, "중앙"),  # 0.2 s gap: too short
        SignSegment(a, 3.8, 4.5, "왼쪽"),  # overlaps the previous one
        SignSegment(b, 1.0, 2.0, "위"),
    ]
    idle = idle_segments(segments, {a: 6.0, b: 2.2}, min_gap_s=0.5)
    assert [(s.video, s.start_s, s.end_s) for s in idle] == [(a, 1.5, 2.0), (a, 4.5, 6.0), (b, 0.0, 1.0)]
    assert {s.word for s in idle} == {IDLE_CLASS}
    for gap in idle:
        for segment in segments:
            if segment.video == gap.video:
                assert gap.end_s <= segment.start_s or gap.start_s >= segment.end_s


def test_augmentation_never_flips_by_itself() -> None:
    names = {type(t).__name__ for t in train_transform(video_spec("x3d_xs")).transforms}
    assert not any("Flip" in name for name in names)


def test_mirror_labels_swap_each_pair_and_keep_the_rest() -> None:
    classes = {IDLE_CLASS: 0, "아래": 1, "오른쪽": 2, "왼쪽": 3}
    assert mirror_labels({"왼쪽": "오른쪽"}, classes) == [0, 1, 3, 2]
    with pytest.raises(ValueError, match=r"mirror words \['뒤'\] are not classes"):
        mirror_labels({"왼쪽": "뒤"}, classes)


def test_mirror_pairs_flag_parses_and_names_a_bad_pair() -> None:
    assert SignTrainConfig(mirror_pairs="왼쪽:오른쪽, a:b").mirror() == {"왼쪽": "오른쪽", "a": "b"}
    assert SignTrainConfig().mirror() == {}
    with pytest.raises(SystemExit, match="A:B"):
        SignTrainConfig(mirror_pairs="왼쪽-오른쪽").mirror()


@pytest.mark.slow
def test_mirrored_training_clips_are_flipped_exactly_when_relabelled(run: tuple[Path, Path]) -> None:
    run_dir, _ = run
    video = sorted((run_dir / "data" / "val" / "video").glob("*.mp4"))[0]
    classes = sorted(SIGN_WORDS)
    left, right = classes.index("왼쪽"), classes.index("오른쪽")
    segments, spec = [SignSegment(video, 0.5, 1.0, "왼쪽")], video_spec("x3d_xs")
    dataset = SignClipDataset(segments, classes, spec, 0.0, True, mirror={"왼쪽": "오른쪽"})
    dataset.augment = partial(resize_and_crop, crop_size=spec.crop_size)  # the plain clip or its mirror image
    plain, _ = SignClipDataset(segments, classes, spec, 0.0, False)[0]
    torch.manual_seed(0)
    labels = []
    for _ in range(16):
        clip, label = dataset[0]
        assert torch.equal(clip, plain.flip(-1) if label == right else plain)
        labels.append(label)
    assert set(labels) == {left, right}


@pytest.mark.slow
def test_dataset_decodes_the_segment_and_samples_the_model_frames(run: tuple[Path, Path]) -> None:
    run_dir, _ = run
    video = sorted((run_dir / "data" / "val" / "video").glob("*.mp4"))[0]
    frames, times = read_frames(video, 0.5, 1.0)
    assert frames.dtype == np.uint8 and frames.shape[-1] == 3
    assert times.min() >= 0.5 and times.max() < 1.0
    spec = video_spec("x3d_xs")
    segment = SignSegment(video, 0.5, 1.0, sorted(SIGN_WORDS)[0])
    for train in (True, False):
        clip, label = SignClipDataset([segment], sorted(SIGN_WORDS), spec, 0.0, train=train)[0]
        assert clip.shape == (3, spec.num_frames, spec.crop_size, spec.crop_size) and label == 0


@pytest.mark.slow
def test_frame_cache_slices_what_decoding_the_window_gives_and_stays_in_its_budget(
    run: tuple[Path, Path],
) -> None:
    run_dir, _ = run
    videos = sorted((run_dir / "data" / "val" / "video").glob("*.mp4"))[:2]
    full, _ = read_frames(videos[0], short_side=32)
    assert min(full.shape[1:3]) == 32  # shrunk as decoded, aspect kept
    cache = FrameCache(32, max_bytes=full.nbytes + 1)
    for start, end in ((0.5, 1.0), (0.0, 0.2), (0.51, 0.52)):
        expected, _ = read_frames(videos[0], start, end, short_side=32)
        assert np.array_equal(cache.window(videos[0], start, end), expected)
        assert np.array_equal(FrameCache(32, 0).window(videos[0], start, end), expected)
    cache.window(videos[1], 0.0, 0.5)  # over budget: the older video goes
    assert list(cache._videos) == [videos[1]]
