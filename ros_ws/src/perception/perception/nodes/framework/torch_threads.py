"""torch's CPU threads: set per node in its own process, once for all nodes in one process.

``torch.set_num_threads`` is process-wide: in the single-process container every model node's
``cpu_threads`` would overwrite the others' and the last node configured would win. The
container therefore fixes the count once (its ``torch_threads`` parameter) before any model
loads, and the nodes' ``cpu_threads`` then change nothing. Each node still runs its model on its
own worker thread, so up to (model nodes) x ``torch_threads`` threads compute at once, as with
one process per node where each process got its node's ``cpu_threads``. torch is imported only
when threads are set, so a node whose model runs on ONNX Runtime never loads it.
"""

from __future__ import annotations

_fixed: int | None = None


def fix_process_threads(threads: int) -> None:
    """Set torch's intra-op threads for the whole process (0 = torch's default) and keep them."""
    global _fixed
    import torch

    if threads:
        torch.set_num_threads(threads)
    _fixed = torch.get_num_threads()


def apply_node_threads(threads: int) -> bool:
    """A node's ``cpu_threads`` (0 = leave torch's default); False when the process fixed them."""
    if _fixed is not None:
        return False
    if threads:
        import torch

        torch.set_num_threads(threads)
    return True
