"""flynet_tiny.build.toolchain."""
