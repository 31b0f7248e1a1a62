"""Where a node's model_path parameter points: absolute, or relative to $PERCEPTION_MODELS_DIR.

Parameter files stay portable across machines (a Jetson keeps models on its own disk) when
they name models relative to one folder chosen by the environment or the launch file.
"""

from __future__ import annotations

import os
from pathlib import Path

from perception.core.constants import MODELS_DIR_ENV
from perception.core.model_files import not_a_file


def resolve_model_path(path: str) -> Path:
    """The existing model file ``path`` names; FileNotFoundError says what it is and what to fix
    otherwise (absent, a directory, a device such as /dev/null)."""
    if not path:
        raise FileNotFoundError(
            f"model_path is empty; set it to a model file (absolute or under ${MODELS_DIR_ENV})"
        )
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        base = os.environ.get(MODELS_DIR_ENV)
        if not base:
            raise FileNotFoundError(
                f"model_path {path!r} is relative but ${MODELS_DIR_ENV} is not set; set it to the "
                "models folder (scripts/with_env.sh and the launch file's models_dir do) or use an "
                "absolute path"
            )
        candidate = Path(base).expanduser() / candidate
    problem = not_a_file(candidate)
    if problem:
        raise FileNotFoundError(
            f"model file {candidate} {problem} (model_path={path!r}, "
            f"${MODELS_DIR_ENV}={os.environ.get(MODELS_DIR_ENV)!r}); train or copy the model there "
            "or fix the model_path parameter"
        )
    return candidate
