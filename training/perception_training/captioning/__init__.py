"""Train the image captioner (``perception.core.captioner``) on a captions.txt dataset."""
