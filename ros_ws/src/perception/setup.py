"""ament_python package `perception`: builds with colcon on a ROS 2 install, or pip in a venv."""

from glob import glob

from setuptools import find_packages, setup
from setuptools.command.develop import develop

PACKAGE = "perception"
# The console scripts' interpreter: the first python3 on PATH when they start (a venv's, on a ROS
# install with the stack's Python libraries in a venv), not the python that ran setup.py (colcon's
# /usr/bin/python3, which cannot import the venv's torch). setup.cfg's [build_scripts] applies it
# to `colcon build`; this applies it to `colcon build --symlink-install` (setup.py develop).
SCRIPT_HEADER = "#!/usr/bin/env python3\n"


class DevelopWithEnvShebang(develop):
    def install_wrapper_scripts(self, dist):
        try:  # setuptools < 80; later versions run develop through pip, which uses its own launcher
            from setuptools.command.easy_install import ScriptWriter
        except ImportError:
            return super().install_wrapper_scripts(dist)
        if self.exclude_scripts:
            return None
        for args in ScriptWriter.best().get_args(dist, header=SCRIPT_HEADER):
            self.write_script(*args)
        return None

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
    cmdclass={"develop": DevelopWithEnvShebang},
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
            "perception_container = perception.bringup.container:main",
            "perception_bag = perception.bags.cli:main",
        ],
    },
)
