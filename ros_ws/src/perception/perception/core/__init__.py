"""Model and inference code with no rclpy import: testable and reusable outside ROS."""
