"""Entry point for ``python -m perception_training.synthetic``."""

from perception_training.synthetic.cli import main

main()
