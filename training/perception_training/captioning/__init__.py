"""Train the image captioner (``perception.core.caption_model``) on a captions.txt dataset."""
