#!/usr/bin/env bash
# Run a command with the stack's run-time environment: offline switches for every library
# that might download, project-owned config/log folders, and an isolated DDS domain.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
unset _ROS_WHEELS_BOOTSTRAP_COMPLETE
export PERCEPTION_ROOT="$ROOT"
export PERCEPTION_MODELS_DIR="${PERCEPTION_MODELS_DIR:-$ROOT/models}"
export YOLO_OFFLINE=1
export YOLO_CONFIG_DIR="${YOLO_CONFIG_DIR:-$ROOT/.cache/ultralytics}"
export HF_HUB_OFFLINE=1
export NO_ALBUMENTATIONS_UPDATE=1
export WANDB_MODE="${WANDB_MODE:-offline}"
export ROS_LOG_DIR="${ROS_LOG_DIR:-$ROOT/.cache/ros_log}"
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
exec "$@"
