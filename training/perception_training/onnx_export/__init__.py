"""ONNX exports of the artifacts that keep every output scored for its domain.

``perception-train export-onnx --artifact A`` writes ``A.onnx`` beside ``A.safetensors``: the
network, the domain score computed in the graph from the same forward pass (docs/ood.md), and
the artifact's metadata in the ONNX ``metadata_props`` (docs/onnx.md).
"""
