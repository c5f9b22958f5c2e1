"""Training stage: data loading, the training loop, and the checkpoint format other stages read."""

from .checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from ..data.datasets import DataInfo, ImageDataset, iterate_batches, load_dataset, normalize, synthetic_dataset
from .trainer import TrainConfig, evaluate, train

__all__ = ["DataInfo", "ImageDataset", "TrainConfig", "evaluate", "iterate_batches", "load_checkpoint",
           "load_dataset", "model_from_checkpoint", "normalize", "save_checkpoint", "synthetic_dataset", "train"]
