#!/usr/bin/env bash
# Source ROS and the built workspace, then run the given command (default: the launch file).
set -e
source "/opt/ros/${ROS_DISTRO}/setup.bash"
source /opt/perception/ros_ws/install/setup.bash
exec "$@"
