"""Image-classification training: readers, augmentation, the trainer, reports and recipes.

Models come from :mod:`perception.core.classifier`; the trainer writes self-describing
artifacts that :class:`perception.core.classifier.Classifier` loads unchanged.
"""
