"""perception: a ROS 2 perception stack (detector, glass, caption, hazard, sign nodes)."""

__version__ = "0.1.0"
