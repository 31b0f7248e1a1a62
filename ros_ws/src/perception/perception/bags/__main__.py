"""`python -m perception.bags ...` is the `perception_bag` console script."""

import sys

from perception.bags.cli import main

sys.exit(main())
