"""The JSON metadata flynet-tiny writes into the .tflite files it converts (model name, classes, normalisation)."""

from __future__ import annotations

import json

from .reader import TFLiteGraph, read_tflite

METADATA_NAME = "flynet_tiny"


def graph_metadata(graph: TFLiteGraph) -> dict:
    """The flynet-tiny metadata of a read model ({} for a model flynet-tiny did not convert)."""
    raw = graph.metadata.get(METADATA_NAME)
    return json.loads(raw.decode()) if raw else {}


def read_metadata(tflite_bytes: bytes) -> dict:
    return graph_metadata(read_tflite(tflite_bytes))
