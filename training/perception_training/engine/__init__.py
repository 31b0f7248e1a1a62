"""Lightning building blocks every trainer can share: callbacks that write the artifact,
metrics.csv and plots, the standard Trainer (TensorBoard, best/last checkpoints, resume), and
command-line flags derived from a config dataclass. Nothing here knows about one task."""
