"""Writing, replaying and recording rosbag2 bags with `rosbags` (no rosbag2_py needed)."""
