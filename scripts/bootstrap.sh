#!/usr/bin/env bash
# Idempotent set-up of everything the stack needs on a fresh machine (no ROS install):
#   .venv with every Python dependency pinned (requirements/constraints.txt),
#   the ROS wheels' CMake files repaired, perception_msgs built into the venv,
#   the perception and perception_training packages installed (editable).
# Each step is skipped when its inputs have not changed, so a second run takes seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PERCEPTION_VENV:-$ROOT/.venv}"
PYTHON="${PERCEPTION_PYTHON:-python3.11}"
STAMPS="$VENV/.perception-stamps"
CONSTRAINTS="$ROOT/requirements/constraints.txt"

# Inherited from another ROS-wheel environment it breaks `import rclpy` (see docs/environment.md).
unset _ROS_WHEELS_BOOTSTRAP_COMPLETE

log() { printf '[bootstrap] %s\n' "$*"; }

digest() { cat "$@" | sha256sum | cut -d' ' -f1; }

# step NAME DIGEST: true when the step must run (its stamp differs from DIGEST)
needs() { [[ "$(cat "$STAMPS/$1" 2>/dev/null)" != "$2" ]]; }
done_step() { echo "$2" > "$STAMPS/$1"; }

if [[ ! -x "$VENV/bin/python" ]]; then
  command -v "$PYTHON" >/dev/null || { echo "bootstrap: $PYTHON not found; install Python 3.11 or set PERCEPTION_PYTHON" >&2; exit 1; }
  log "creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
mkdir -p "$STAMPS"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
# Noise filtered from pip's stderr: warnings about find-links folders of this machine that lack a
# package, and setuptools' banner about editable installs.
PIP_NOISE='is ignored: it is neither a file nor a directory|^\s*!!\s*$|\*{20}|Please be careful|name as your package|with strategy, WheelFile|BuildBackendWarning: Editable|^\s*$'
pip_quiet() { "${PIP[@]}" "$@" 2> >(grep -Ev "$PIP_NOISE" >&2); }

deps_digest="$(digest "$ROOT"/requirements/*.txt)"
if needs deps "$deps_digest"; then
  log "installing Python dependencies (pinned by requirements/constraints.txt; first run takes a few minutes)"
  pip_quiet install --quiet --upgrade pip -c "$CONSTRAINTS"
  pip_quiet install --quiet -c "$CONSTRAINTS" -r "$ROOT/requirements/requirements.txt"
  "$VENV/bin/python" "$ROOT/scripts/fix_ros_wheel_cmake.py"
  rm -f "$STAMPS/msgs"
  done_step deps "$deps_digest"
fi

msgs_dir="$ROOT/ros_ws/src/perception_msgs"
msgs_digest="$(digest "$msgs_dir/CMakeLists.txt" "$msgs_dir/package.xml" "$msgs_dir"/msg/*.msg "$msgs_dir"/srv/*.srv)"
if needs msgs "$msgs_digest"; then
  log "building perception_msgs into the venv"
  build="$VENV/.build/perception_msgs"
  rm -rf "$build" && mkdir -p "$build"
  (
    export CMAKE_PREFIX_PATH="$VENV" AMENT_PREFIX_PATH="$VENV"
    cmake -S "$msgs_dir" -B "$build" -DCMAKE_INSTALL_PREFIX="$VENV" -DBUILD_TESTING=OFF \
      -DPython3_EXECUTABLE="$VENV/bin/python" -DCMAKE_BUILD_TYPE=Release >"$build.log" 2>&1 \
      && cmake --build "$build" -j "$(nproc)" >>"$build.log" 2>&1 \
      && cmake --install "$build" >>"$build.log" 2>&1
  ) || { tail -40 "$build.log" >&2; echo "bootstrap: building perception_msgs failed, full log: $build.log" >&2; exit 1; }
  done_step msgs "$msgs_digest"
fi

pkgs_digest="$(digest "$ROOT/ros_ws/src/perception/setup.py" "$ROOT/training/pyproject.toml")"
if needs pkgs "$pkgs_digest"; then
  log "installing perception and perception_training (editable)"
  pip_quiet install --quiet --no-deps --no-build-isolation -c "$CONSTRAINTS" \
    -e "$ROOT/ros_ws/src/perception" -e "$ROOT/training"
  done_step pkgs "$pkgs_digest"
fi

log "ready: $VENV"
