"""``python -m perception_training.captioning``: the ``caption`` trainer without the dispatcher."""

import sys

from perception_training.captioning.cli import main

sys.exit(main())
