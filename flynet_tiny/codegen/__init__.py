"""Code generation: a `.tflite` becomes readable C calling the int8 kernels on one planned arena."""
