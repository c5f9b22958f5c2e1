"""flynet-tiny: FlyNet from PyTorch training to int8 firmware for Cortex-M4/M7."""

__version__ = "0.1.0"
