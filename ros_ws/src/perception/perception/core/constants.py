"""Names and numbers shared by the runtime, the launch files, training and the tools; defined
here once. No imports: the launch process reads this module."""

# Relative model_path parameters resolve under this folder (perception.nodes.framework.model_path).
MODELS_DIR_ENV = "PERCEPTION_MODELS_DIR"

# torchvision's ImageNet normalisation (RGB, pixels scaled to [0, 1]), which every pretrained
# backbone here was trained with.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
