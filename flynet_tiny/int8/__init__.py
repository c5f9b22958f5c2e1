"""flynet_tiny.int8.kernel_params."""
