"""Thin rclpy adapters around perception.core: parameters, QoS, message conversion."""
