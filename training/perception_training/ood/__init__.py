"""Out-of-domain statistics for the model artifacts: fit and calibrate them (``perception-train
ood-calibrate``) and measure how well they separate the synthetic world from real photos
(``python -m perception_training.ood.evaluate``); docs/ood.md."""
