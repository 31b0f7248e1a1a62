#!/usr/bin/env bash
# Source ROS and the built workspace, apply the DDS settings of this distribution, then run the
# given command (default: the launch file).
#   Humble: ROS_LOCALHOST_ONLY=1 keeps discovery on this host (ROS_AUTOMATIC_DISCOVERY_RANGE does
#           not exist there; LOCALHOST is translated). Jazzy and later: ROS_AUTOMATIC_DISCOVERY_RANGE
#           (ROS_LOCALHOST_ONLY=1 is translated to LOCALHOST; it is deprecated there).
# Run the container with --network host --ipc host to reach processes on the host: Fast DDS
# uses shared memory between processes of one host, which needs the host's IPC namespace.
set -e
source "${PERCEPTION_ROS_SETUP:-/opt/ros/${ROS_DISTRO}/setup.bash}"
source "${PERCEPTION_WS_SETUP:-/opt/perception/ros_ws/install/setup.bash}"
if [[ "${ROS_DISTRO}" == humble ]]; then
  if [[ "${ROS_AUTOMATIC_DISCOVERY_RANGE:-}" == LOCALHOST ]]; then export ROS_LOCALHOST_ONLY=1; fi
  unset ROS_AUTOMATIC_DISCOVERY_RANGE ROS_STATIC_PEERS
elif [[ "${ROS_LOCALHOST_ONLY:-0}" == 1 && -z "${ROS_AUTOMATIC_DISCOVERY_RANGE:-}" ]]; then
  export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
  unset ROS_LOCALHOST_ONLY
fi
exec "$@"
