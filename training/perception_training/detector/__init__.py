"""Train the YOLO detector on the synthetic world and write the ``detector`` artifact."""
