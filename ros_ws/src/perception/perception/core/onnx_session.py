"""ONNX Runtime sessions for the model classes: open a file, pick the execution provider, read
the metadata our exports carry.

ONNX Runtime needs no torch, so a node whose model is an ``.onnx`` file stays about 650 MiB
lighter (docs/onnx.md has the measurement). Our exports (``perception-train export-onnx``)
carry the source artifact's metadata as JSON under the ``perception`` key of the ONNX
``metadata_props`` and, for an artifact with domain statistics, a ``domain_score`` output
computed in the graph from the same forward pass (docs/ood.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from perception.core.model_files import ArtifactError, manifest_entry, not_a_file, sha256_of

LOG = logging.getLogger(__name__)

ONNX_SUFFIX = ".onnx"
METADATA_KEY = "perception"  # metadata_props key holding the source artifact's metadata (JSON)
DOMAIN_OUTPUT = "domain_score"  # graph output: Mahalanobis distance / threshold, one per image
# Graphs an export keeps beside its main one, as ``A.<part>.onnx``: a loop in Python runs them (the
# captioner's decoder, one step per word).
DECODER_PART = "decoder"
PARTS = (DECODER_PART,)
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
EXECUTION_PROVIDERS = (CPU, CUDA, TENSORRT)
# What ONNX Runtime falls back to for the operators a provider does not run.
_FALLBACKS = {CPU: (CPU,), CUDA: (CUDA, CPU), TENSORRT: (TENSORRT, CUDA, CPU)}
_GPU_FIX = (
    "install onnxruntime-gpu (desktop CUDA) or NVIDIA's JetPack build of onnxruntime-gpu (Jetson; "
    "docs/onnx.md) in place of onnxruntime, or set execution_provider to CPUExecutionProvider"
)


def part_path(path: Path, part: str) -> Path:
    """Where the export ``A.onnx`` keeps its graph ``part``: ``A.<part>.onnx``."""
    return path.with_suffix(f".{part}{ONNX_SUFFIX}")


def export_command(path: Path) -> str:
    """How to (re)make ``path`` (an export or one of its parts) from the artifact beside it."""
    stem = path.with_suffix("")
    if stem.suffix[1:] in PARTS:
        stem = stem.with_suffix("")
    return f"perception-train export-onnx --artifact {stem.with_suffix('.safetensors')}"


def trt_cache_dir() -> Path:
    """Where TensorRT keeps the engines it builds: a restart must not rebuild them (minutes on a Jetson)."""
    root = os.environ.get("PERCEPTION_ROOT")
    base = Path(root) / ".cache" if root else Path.home() / ".cache" / "perception"
    return base / "onnxruntime" / "tensorrt"


@dataclass(frozen=True)
class SessionOptions:
    """Where and how a session runs: the provider (with ONNX Runtime's fallbacks after it), the CPU
    threads of its operators (0 = ONNX Runtime's default, one per physical core) and FP16 on TensorRT."""

    execution_provider: str = CPU
    threads: int = 0
    half: bool = False


ON_CPU = SessionOptions()  # the default: CPU provider, ONNX Runtime's threads


class OnnxSession:
    """One ONNX Runtime inference session plus the metadata of the file it was made from."""

    def __init__(self, path: Path, session: Any, metadata: Mapping[str, Any], props: Mapping[str, str]):
        self.path = path
        self.session = session
        self.metadata = dict(metadata)
        self.props = dict(props)
        self.input = session.get_inputs()[0]
        self.output_names = [output.name for output in session.get_outputs()]

    @classmethod
    def open(
        cls,
        path: str | Path,
        options: SessionOptions = ON_CPU,
        expected_kind: str | None = None,
        error: type[Exception] = ArtifactError,
    ) -> OnnxSession:
        """Open ``path`` on ``options.execution_provider``; ``error`` names the file, the problem and
        the fix (missing, corrupt, another kind of model, a provider this onnxruntime lacks)."""
        path = Path(path)
        problem = not_a_file(path)
        if problem:
            raise error(f"ONNX model {path} {problem}; make it with `{export_command(path)}`")
        import onnxruntime as ort

        providers = _providers(options, ort.get_available_providers(), error)
        data = path.read_bytes()
        _check_manifest(path, data, error)
        settings = ort.SessionOptions()
        settings.intra_op_num_threads = options.threads
        settings.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning: the model nodes share the robot's cores.
        settings.add_session_config_entry("session.intra_op.allow_spinning", "0")
        settings.log_severity_level = 3  # errors only; warnings about unused initialisers are noise
        try:
            session = ort.InferenceSession(data, settings, providers=providers)
        except Exception as failure:  # onnxruntime raises its own pybind types for a bad file
            raise error(
                f"{path} is not a loadable ONNX model ({type(failure).__name__}: {str(failure)[:300]}); "
                f"the file is corrupt or truncated: export it again with `{export_command(path)}`"
            ) from failure
        running = session.get_providers()[0]
        if running != options.execution_provider:
            raise error(
                f"{path}: ONNX Runtime could not start {options.execution_provider} and fell back to "
                f"{running} (its log says why: usually a CUDA, cuDNN or TensorRT library it cannot find); "
                + _GPU_FIX
            )
        props = session.get_modelmeta().custom_metadata_map
        metadata = _metadata(path, props, error)
        if expected_kind is not None and metadata and metadata.get("kind") != expected_kind:
            raise error(
                f"{path} holds a {metadata.get('kind')!r} model, expected {expected_kind!r}; "
                "check the model_path parameter"
            )
        _warn_if_stale(path, metadata)
        return cls(path, session, metadata, props)

    @property
    def provider(self) -> str:
        return self.session.get_providers()[0]

    @property
    def scored(self) -> bool:
        """Whether the graph computes the domain score (our export of an artifact with statistics)."""
        return DOMAIN_OUTPUT in self.output_names

    def fixed_input_shape(self) -> tuple[int, ...] | None:
        """The input's shape when every dimension is fixed, else None (dynamic axes)."""
        shape = self.input.shape
        return tuple(shape) if all(isinstance(dim, int) for dim in shape) else None

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Every output of one forward pass of the (first) input ``batch``, by name."""
        return self.run_feeds({self.input.name: batch})

    def run_feeds(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Every output of one forward pass of a graph with several inputs, by name."""
        outputs = self.session.run(None, dict(feeds))
        return dict(zip(self.output_names, outputs, strict=True))


def _providers(options: SessionOptions, available: Sequence[str], error: type[Exception]) -> list[Any]:
    """The provider list for ``options``, TensorRT with an engine cache; ``error`` if unavailable."""
    wanted = options.execution_provider
    if wanted not in _FALLBACKS:
        raise error(f"unknown execution_provider {wanted!r}; choose one of {', '.join(EXECUTION_PROVIDERS)}")
    if wanted not in available:
        raise error(
            f"execution_provider {wanted} is not in this onnxruntime build (it has "
            f"{', '.join(available)}); " + _GPU_FIX
        )
    chain: list[Any] = [name for name in _FALLBACKS[wanted] if name in available]
    if wanted == TENSORRT:
        cache = trt_cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        chain[0] = (
            TENSORRT,
            {
                "trt_engine_cache_enable": True,
                "trt_engine_cache_path": str(cache),
                "trt_fp16_enable": options.half,
            },
        )
    return chain


def _check_manifest(path: Path, data: bytes, error: type[Exception]) -> None:
    """A file a models manifest lists must have its sha256, as artifacts must (docs/reliability.md)."""
    listed = manifest_entry(path)
    if listed is None:
        LOG.info("%s is not in a models manifest: loaded unverified", path)
        return
    manifest, expected = listed
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise error(
            f"{path} does not match {manifest}: expected sha256 {expected}, actual {actual}; restore it "
            f"(e.g. `git checkout -- {path}`) or export it again with `{export_command(path)}` and "
            "refresh the manifest with `python -m perception_training.manifest`"
        )


def _warn_if_stale(path: Path, metadata: Mapping[str, Any]) -> None:
    """An export older than the artifact beside it (retrained, recalibrated) gives that artifact's
    old outputs and domain scores: say so where the operator looks."""
    exported = metadata.get("onnx", {})
    source = path.with_name(exported.get("source", "")) if exported.get("source") else None
    if source is None or not source.is_file() or sha256_of(source) == exported.get("source_sha256"):
        return
    LOG.warning(
        "%s was exported from another version of %s (it has changed since: retrained or recalibrated?); "
        "its outputs and domain scores are the old ones until you export it again with `%s`",
        path,
        source.name,
        export_command(path),
    )


def _metadata(path: Path, props: Mapping[str, str], error: type[Exception]) -> dict[str, Any]:
    """Our artifact metadata from ``metadata_props`` ({} for a file another tool exported)."""
    text = props.get(METADATA_KEY)
    if text is None:
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as failure:
        raise error(
            f"{path} has corrupt '{METADATA_KEY}' metadata ({failure}); export it again with "
            f"`{export_command(path)}`"
        ) from failure
