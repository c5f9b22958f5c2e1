"""Export stage: QDQ ONNX -> int8 TFLite, verification against reference interpreters, C arrays."""
