"""``python -m perception_training.captioning``: the ``caption`` trainer without the dispatcher."""

import sys

from perception_training.captioning.train import main

sys.exit(main())
