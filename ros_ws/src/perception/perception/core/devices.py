"""Pick the torch device a model runs on, so every node and trainer agrees on the rules."""

from __future__ import annotations

import re

import torch

_CUDA = re.compile(r"^cuda(?::(\d+))?$")


class DeviceError(ValueError):
    """A requested device does not exist on this machine or is not a device name."""


def resolve_device(requested: str = "auto") -> str:
    """Turn ``auto | cpu | cuda | cuda:N | mps`` into a device that exists here.

    ``auto`` prefers ``cuda:0``, then ``mps``, then ``cpu``. An explicit request for a
    device this machine lacks raises :class:`DeviceError` rather than silently running on
    the CPU, because a robot that expected its GPU should say so loudly.
    """
    name = str(requested).strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda:0"
        return "mps" if _mps_available() else "cpu"
    if name == "cpu":
        return "cpu"
    if name == "mps":
        if not _mps_available():
            raise DeviceError("device 'mps' requested but Apple MPS is not available; use 'auto' or 'cpu'")
        return "mps"
    match = _CUDA.match(name)
    if match is None:
        raise DeviceError(f"unknown device {requested!r}; use auto, cpu, cuda, cuda:N or mps")
    index = int(match.group(1) or 0)
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if index >= count:
        raise DeviceError(
            f"device {requested!r} requested but this machine has {count} usable CUDA device(s); "
            "use 'auto' or 'cpu', or check the NVIDIA driver (nvidia-smi)"
        )
    return f"cuda:{index}"


def half_supported(device: str) -> bool:
    """FP16 inference only pays off (and is only reliable) on CUDA devices."""
    return str(device).startswith("cuda")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())
