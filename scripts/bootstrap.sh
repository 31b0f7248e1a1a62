#!/usr/bin/env bash
# Idempotent set-up of everything the stack needs on a fresh machine (no ROS install):
#   .venv with every Python dependency pinned (requirements/constraints.txt),
#   the ROS wheels' CMake files repaired, perception_msgs built into the venv,
#   the perception and perception_training packages installed (editable), perception registered
#   in the venv's ament index; with PERCEPTION_ROS_TOOLS, launch and the ros2 CLI too.
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
  rm -f "$STAMPS"/{perception_msgs,composition_interfaces,vision_msgs}
  done_step deps "$deps_digest"
fi

# build_interfaces NAME SRC_DIR: an ament_cmake interface package, built and installed into the
# venv itself (the venv is the ROS prefix), skipped while its sources are unchanged.
build_interfaces() {
  local name="$1" src="$2" sources
  sources="$(digest "$src/CMakeLists.txt" "$src/package.xml" $(find "$src" -name '*.msg' -o -name '*.srv' | sort))"
  needs "$name" "$sources" || return 0
  log "building $name into the venv"
  local build="$VENV/.build/$name"
  rm -rf "$build" && mkdir -p "$build"
  (
    export CMAKE_PREFIX_PATH="$VENV" AMENT_PREFIX_PATH="$VENV"
    cmake -S "$src" -B "$build" -DCMAKE_INSTALL_PREFIX="$VENV" -DBUILD_TESTING=OFF \
      -DPython3_EXECUTABLE="$VENV/bin/python" -DCMAKE_BUILD_TYPE=Release >"$build.log" 2>&1 \
      && cmake --build "$build" -j "$(nproc)" >>"$build.log" 2>&1 \
      && cmake --install "$build" >>"$build.log" 2>&1
  ) || { tail -40 "$build.log" >&2; echo "bootstrap: building $name failed, full log: $build.log" >&2; exit 1; }
  done_step "$name" "$sources"
}

build_interfaces perception_msgs "$ROOT/ros_ws/src/perception_msgs"

# Optional: launch, launch_pytest and the ros2 CLI (not on PyPI) from a folder of wheels built from
# the ROS sources (../shared/ros-tools here; .ci/run sets the variable when it exists), plus the
# interface packages they and the detector's vision_msgs output need. Without it the launch
# tests skip with the reason.
TOOLS="${PERCEPTION_ROS_TOOLS:-}"
if [[ -n "$TOOLS" ]]; then
  [[ -d "$TOOLS/wheels" ]] || { echo "bootstrap: PERCEPTION_ROS_TOOLS=$TOOLS has no wheels/ folder" >&2; exit 1; }
  tools_digest="$(digest "$ROOT/requirements/ros-tools.txt" "$CONSTRAINTS" <(ls -l "$TOOLS"/wheels/*.whl))"
  if needs tools "$tools_digest"; then
    log "installing launch and the ros2 CLI from $TOOLS/wheels"
    # --no-deps: the wheels name their ROS dependencies by ROS names (rclpy, launch), which the
    # ros-* wheels provide under other names; their PyPI dependencies are in ros-tools.txt.
    pip_quiet install --quiet --no-deps "$TOOLS"/wheels/*.whl
    pip_quiet install --quiet -c "$CONSTRAINTS" -r "$ROOT/requirements/ros-tools.txt"
    done_step tools "$tools_digest"
  fi
  build_interfaces composition_interfaces "$TOOLS/src/composition_interfaces"
  build_interfaces vision_msgs "$TOOLS/src/vision_msgs"
fi

pkg_dir="$ROOT/ros_ws/src/perception"
pkgs_digest="$(digest "$pkg_dir/setup.py" "$ROOT/training/pyproject.toml")"
if needs pkgs "$pkgs_digest"; then
  log "installing perception and perception_training (editable)"
  pip_quiet install --quiet --no-deps --no-build-isolation -c "$CONSTRAINTS" \
    -e "$pkg_dir" -e "$ROOT/training"
  rm -f "$STAMPS/ament"
  done_step pkgs "$pkgs_digest"
fi

# The ament index entry, share/perception and lib/perception, laid out as colcon does (links).
ament_digest="$(cd "$pkg_dir" && digest setup.py package.xml <(find resource launch config rviz -type f | sort))"
if needs ament "$ament_digest"; then
  log "registering perception in the venv's ament index"
  "$VENV/bin/python" "$ROOT/scripts/register_ament.py" "$pkg_dir" >/dev/null
  done_step ament "$ament_digest"
fi

log "ready: $VENV"
