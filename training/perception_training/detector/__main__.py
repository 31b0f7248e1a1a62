"""``python -m perception_training.detector`` = ``perception-train detector``."""

import sys

from perception_training.detector.train import main

sys.exit(main())
