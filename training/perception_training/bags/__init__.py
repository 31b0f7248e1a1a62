"""Bags for the tests and the demo, made from the synthetic world: camera bags with their ground
truth (``synthetic``, ``synthetic_sign``, the ``perception_bag write-synthetic`` command) and
the launch graph's nodes run as processes on a bag (``bag_graph``). The robot needs none of it;
reading, replaying and recording bags stays in the runtime package (``perception.bags``)."""
