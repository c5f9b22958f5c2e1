"""flynet_tiny.convert.onnx_export."""
