"""What the launch files start, as plain Python (launch/launch_ros are not on PyPI)."""
