"""ament_python package `perception`: builds with colcon on a ROS 2 install, or pip in a venv."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "perception"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.xml")),
        (f"share/{PACKAGE}/rviz", glob("rviz/*.rviz")),
    ],
    install_requires=["setuptools"],
    extras_require={"test": ["pytest"]},
    zip_safe=True,
    maintainer="perception maintainers",
    maintainer_email="maintainers@perception.invalid",
    description="ROS 2 perception nodes: detector, glass, caption, hazard, sign.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "detector_node = perception.nodes.detector_node:main",
            "caption_node = perception.nodes.caption_node:main",
            "hazard_node = perception.nodes.hazard_node:main",
            "glass_node = perception.nodes.glass_node:main",
            "sign_node = perception.nodes.sign_node:main",
            "perception_bag = perception.bags.cli:main",
        ],
    },
)
