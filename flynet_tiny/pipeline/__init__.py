"""flynet_tiny.pipeline.export."""
