"""perception_training: offline training of the perception stack's models."""
