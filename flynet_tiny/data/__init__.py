"""flynet_tiny.data.datasets."""
