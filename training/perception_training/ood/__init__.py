"""Out-of-domain statistics for the model artifacts: fit and calibrate them (``perception-train
ood-calibrate``) and measure how well they separate the synthetic world from real photos
(``python -m perception_training.ood.evaluate``), the nodes' frame-quality check
(``...ood.frame_quality``) and other feature choices for the glass classifier
(``...ood.glass_features``); docs/ood.md."""
