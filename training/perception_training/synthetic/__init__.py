"""The seeded synthetic world: scenes with exact ground truth, and writers for public formats."""

from perception_training.synthetic.captions import LANGUAGES, captions
from perception_training.synthetic.objects import GLASS_TYPES, OBJECT_TYPES
from perception_training.synthetic.scene import DETECTOR_CLASSES, Scene, SceneObject
from perception_training.synthetic.world import KINDS, SceneWorld
from perception_training.synthetic.writers.captions import write_caption_dataset
from perception_training.synthetic.writers.glass import write_glass_crops
from perception_training.synthetic.writers.tiny_imagenet import write_tiny_imagenet
from perception_training.synthetic.writers.yolo import write_yolo_dataset

__all__ = [
    "DETECTOR_CLASSES",
    "GLASS_TYPES",
    "KINDS",
    "LANGUAGES",
    "OBJECT_TYPES",
    "Scene",
    "SceneObject",
    "SceneWorld",
    "captions",
    "write_caption_dataset",
    "write_glass_crops",
    "write_tiny_imagenet",
    "write_yolo_dataset",
]
