"""flynet_tiny.verify.agreement."""
