#!/usr/bin/env bash
# Regenerate requirements/constraints.txt: resolve requirements.txt (and the PyPI dependencies
# of ../shared/ros-tools, ros-tools.txt) in a scratch venv with torch/torchvision held at the
# pinned pair, then freeze. Review the diff before committing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
python3.11 -m venv "$scratch/venv"
torch_pins="$(grep -E '^(torch|torchvision)==' "$ROOT/requirements/constraints.txt")"
echo "$torch_pins" > "$scratch/torch.txt"
"$scratch/venv/bin/pip" install --quiet -c "$scratch/torch.txt" -r "$ROOT/requirements/requirements.txt" \
  -r "$ROOT/requirements/ros-tools.txt"
{
  sed -n '1,3p' "$ROOT/requirements/constraints.txt"
  "$scratch/venv/bin/pip" freeze --exclude-editable
} > "$ROOT/requirements/constraints.txt"
echo "lock: wrote requirements/constraints.txt"
