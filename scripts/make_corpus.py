"""Write tests/corpus/: int8 .tflite models made by TensorFlow's own converter, plus manifest.json.

Each model is a Keras model built from a public description (the MLPerf Tiny reference models,
TFLite Micro's examples, published architectures) with seeded random weights, converted with
`tf.lite.TFLiteConverter.from_keras_model` at its default settings for full-integer int8: the
models users bring from the field. Image models come twice: int8 input and output (`_int8`),
and uint8 input with float32 output (`_u8f32`).

    python3 -m venv venv-tf && venv-tf/bin/pip install '.[corpus]'
    venv-tf/bin/python scripts/make_corpus.py [--out tests/corpus] [--only NAME ...] [--seed 0]

Standard library, numpy and TensorFlow only: this script must not import flynet_tiny.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # plain float kernels: calibration ranges do not depend on the CPU

import argparse
import contextlib
import hashlib
import io
import json
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import tensorflow as tf
import keras
from keras import layers as L
from tensorflow.lite.python import schema_py_generated as schema

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "tests" / "corpus"
CALIBRATION_SAMPLES = 32     # representative dataset: one sample per converter step
BN_STATISTICS_SAMPLES = 64   # one training-mode batch that sets every BatchNormalization's moving statistics


# ---------------------------------------------------------------------------------------------
# Synthetic input data (deterministic for a seed)

def smooth_images(rng: np.random.Generator, n: int, shape: tuple[int, ...], low: float, high: float) -> np.ndarray:
    """Images with large blobs and fine texture rather than white noise, scaled to [low, high]."""
    h, w, c = shape
    coarse = rng.uniform(0.0, 1.0, (n, h // 8 + 1, w // 8 + 1, c))
    up = np.repeat(np.repeat(coarse, 8, axis=1), 8, axis=2)[:, :h, :w, :]
    pixels = np.clip(0.8 * up + 0.2 * rng.uniform(0.0, 1.0, (n, h, w, c)), 0.0, 1.0)
    return (low + (high - low) * pixels).astype(np.float32)


def normal_features(rng: np.random.Generator, n: int, shape: tuple[int, ...], mean: float, std: float) -> np.ndarray:
    return rng.normal(mean, std, (n, *shape)).astype(np.float32)


def uniform_features(rng: np.random.Generator, n: int, shape: tuple[int, ...], low: float, high: float) -> np.ndarray:
    return rng.uniform(low, high, (n, *shape)).astype(np.float32)


@dataclass(frozen=True)
class InputData:
    """How one model input's calibration data is drawn; `text` goes into the manifest."""
    kind: str      # "image", "normal" or "uniform"
    a: float       # image/uniform: low; normal: mean
    b: float       # image/uniform: high; normal: std

    def draw(self, rng: np.random.Generator, n: int, shape: tuple[int, ...]) -> np.ndarray:
        if self.kind == "image":
            return smooth_images(rng, n, shape, self.a, self.b)
        if self.kind == "normal":
            return normal_features(rng, n, shape, self.a, self.b)
        return uniform_features(rng, n, shape, self.a, self.b)

    @property
    def text(self) -> str:
        if self.kind == "normal":
            return f"normal(mean {self.a}, std {self.b})"
        return f"{self.kind} in [{self.a}, {self.b}]"


IMAGE_01 = InputData("image", 0.0, 1.0)     # pixels / 255 (the MLPerf Tiny image models)
IMAGE_PM1 = InputData("image", -1.0, 1.0)   # pixels / 127.5 - 1 (keras.applications MobileNets)


# ---------------------------------------------------------------------------------------------
# Building blocks

def conv_bn(x, filters, kernel, strides=1, padding="same", activation="relu", name=None, **kwargs):
    x = L.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False, name=name, **kwargs)(x)
    x = L.BatchNormalization()(x)
    return L.Activation(activation)(x) if isinstance(activation, str) else activation(x)


def dw_bn(x, kernel, strides=1, padding="same", activation="relu", **kwargs):
    x = L.DepthwiseConv2D(kernel, strides=strides, padding=padding, use_bias=False, **kwargs)(x)
    x = L.BatchNormalization()(x)
    return L.Activation(activation)(x) if isinstance(activation, str) else activation(x)


def separable(x, filters, strides=1, activation="relu"):
    """MobileNetV1's depthwise-separable block: 3x3 depthwise + BN + act, 1x1 conv + BN + act."""
    x = dw_bn(x, 3, strides=strides, activation=activation)
    return conv_bn(x, filters, 1, activation=activation)


# ---------------------------------------------------------------------------------------------
# The architectures

def mlperf_resnet8():
    """MLPerf Tiny image classification reference (EEMBC ResNet-8 v1, 16 filters, CIFAR-10)."""
    def conv(x, filters, kernel, strides=1):
        return L.Conv2D(filters, kernel, strides=strides, padding="same", kernel_initializer="he_normal")(x)

    inputs = keras.Input((32, 32, 3))
    x = L.Activation("relu")(L.BatchNormalization()(conv(inputs, 16, 3)))
    for stack, filters in enumerate((16, 32, 64)):
        strides = 1 if stack == 0 else 2
        y = L.Activation("relu")(L.BatchNormalization()(conv(x, filters, 3, strides)))
        y = L.BatchNormalization()(conv(y, filters, 3))
        if stack:
            x = conv(x, filters, 1, strides)
        x = L.Activation("relu")(L.add([x, y]))
    pool = int(min(x.shape[1:3]))
    x = L.Flatten()(L.AveragePooling2D(pool_size=pool)(x))
    outputs = L.Dense(10, activation="softmax", kernel_initializer="he_normal")(x)
    return keras.Model(inputs, outputs)


def mlperf_dscnn_kws():
    """MLPerf Tiny keyword spotting reference: DS-CNN (small), 49x10 MFCC, 12 classes."""
    inputs = keras.Input((49, 10, 1))
    x = L.Conv2D(64, (10, 4), strides=(2, 2), padding="same")(inputs)
    x = L.Dropout(0.2)(L.Activation("relu")(L.BatchNormalization()(x)))
    for _ in range(4):
        x = L.DepthwiseConv2D((3, 3), padding="same")(x)
        x = L.Activation("relu")(L.BatchNormalization()(x))
        x = L.Conv2D(64, (1, 1), padding="same")(x)
        x = L.Activation("relu")(L.BatchNormalization()(x))
    x = L.Dropout(0.4)(x)
    # the reference's final_pool_size = (int(49 / 2), int(10 / 2)) = (24, 5) on a 25x5 map
    x = L.AveragePooling2D(pool_size=(49 // 2, 10 // 2))(x)
    outputs = L.Dense(12, activation="softmax")(L.Flatten()(x))
    return keras.Model(inputs, outputs)


def mlperf_mobilenetv1_vww():
    """MLPerf Tiny visual wake words reference: MobileNetV1 alpha 0.25 (8 stem filters), 96x96, 2 classes."""
    def conv(x, filters, kernel, strides=1):
        x = L.Conv2D(filters, kernel, strides=strides, padding="same", kernel_initializer="he_normal")(x)
        return L.Activation("relu")(L.BatchNormalization()(x))

    def depthwise(x, strides):
        x = L.DepthwiseConv2D(3, strides=strides, padding="same", depthwise_initializer="he_normal")(x)
        return L.Activation("relu")(L.BatchNormalization()(x))

    inputs = keras.Input((96, 96, 3))
    x = conv(inputs, 8, 3, 2)
    filters = 8
    for strides, doubles in ((1, True), (2, True), (1, False), (2, True), (1, False), (2, True),
                             (1, False), (1, False), (1, False), (1, False), (1, False), (2, True), (1, False)):
        filters *= 2 if doubles else 1
        x = conv(depthwise(x, strides), filters, 1)
    x = L.AveragePooling2D(pool_size=tuple(x.shape[1:3]))(x)
    outputs = L.Dense(2, activation="softmax")(L.Flatten()(x))
    return keras.Model(inputs, outputs)


def mlperf_fc_autoencoder():
    """MLPerf Tiny anomaly detection reference: FC autoencoder, 640 log-mel inputs (5 frames x 128)."""
    inputs = keras.Input((640,))
    x = inputs
    for units in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        x = L.Activation("relu")(L.BatchNormalization()(L.Dense(units)(x)))
    outputs = L.Dense(640)(x)
    return keras.Model(inputs, outputs)


def micro_speech():
    """TFLite Micro's micro_speech ('tiny_conv'): 49x40 features flat, 10x8 conv (8 filters) stride 2, FC to 4."""
    inputs = keras.Input((49 * 40,))
    x = L.Reshape((49, 40, 1))(inputs)
    # one input channel: TFLM's model holds this conv as a DEPTHWISE_CONV_2D with depth multiplier 8
    x = L.DepthwiseConv2D((10, 8), strides=(2, 2), padding="same", depth_multiplier=8, activation="relu")(x)
    x = L.Flatten()(x)
    outputs = L.Softmax()(L.Dense(4)(x))
    return keras.Model(inputs, outputs)


def hello_world():
    """TFLite Micro's hello_world: sin(x) by three dense layers 1 -> 16 -> 16 -> 1."""
    inputs = keras.Input((1,))
    x = L.Dense(16, activation="relu")(inputs)
    x = L.Dense(16, activation="relu")(x)
    return keras.Model(inputs, L.Dense(1)(x))


def audio_cnn_1d():
    """A 1-D audio CNN on 49 frames x 40 mel bins: a 1x40 conv folds the frequency axis, then
    Hx1 depthwise-separable blocks run along time (TC-ResNet / 1-D DS-CNN style), 12 classes."""
    inputs = keras.Input((49, 40, 1))
    x = conv_bn(inputs, 32, (1, 40), padding="valid")                   # -> 49 x 1 x 32
    for filters, kernel, strides in ((48, 9, 2), (48, 9, 1), (64, 5, 2), (64, 5, 1)):
        # TF's depthwise kernel wants equal strides; on a map one column wide 2x2 equals 2x1
        x = dw_bn(x, (kernel, 1), strides=strides)
        x = conv_bn(x, filters, 1)
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(12, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def mobilenetv2_035_128():
    """keras.applications.MobileNetV2, alpha 0.35, 128x128x3, 10 classes (weights=None)."""
    return keras.applications.MobileNetV2(input_shape=(128, 128, 3), alpha=0.35, weights=None, classes=10)


def fd_mobilenet_025_128():
    """FD-MobileNet (Qin et al. 2018, fast downsampling) at width 0.25, 128x128x3, 10 classes."""
    def width(c):
        return int(c * 0.25)

    inputs = keras.Input((128, 128, 3))
    x = conv_bn(inputs, width(32), 3, strides=2)
    plan = [(64, 2), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 4 + [(1024, 1)]
    for filters, strides in plan:
        x = separable(x, width(filters), strides)
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def clip6(x):
    """EfficientNet-lite's ReLU6 written as a clip (the converter recognises it as RELU6)."""
    return keras.ops.clip(x, 0.0, 6.0)


def efficientnet_lite_style():
    """EfficientNet-lite0's layout (MBConv stages, no squeeze-excite, ReLU6 as clip(x, 0, 6),
    stem and head not scaled) at width 0.25 and depth 0.5 (EfficientNet's compound scaling rules),
    128x128x3, head 1280 -> 10 classes."""
    def round_filters(c):
        return max(8, int(c * 0.25 + 4) // 8 * 8)

    def round_repeats(n):
        return int(np.ceil(n * 0.5))

    def mbconv(x, expand, kernel, strides, filters):
        inputs = x
        channels = x.shape[-1]
        if expand != 1:
            x = conv_bn(x, channels * expand, 1, activation=clip6)
        x = dw_bn(x, kernel, strides=strides, activation=clip6)
        x = L.BatchNormalization()(L.Conv2D(filters, 1, use_bias=False)(x))
        if strides == 1 and channels == filters:
            x = L.add([inputs, x])
        return x

    inputs = keras.Input((128, 128, 3))
    x = conv_bn(inputs, 32, 3, strides=2, activation=clip6)
    stages = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
              (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]
    for expand, kernel, strides, filters, repeats in stages:
        for i in range(round_repeats(repeats)):
            x = mbconv(x, expand, kernel, strides if i == 0 else 1, round_filters(filters))
    x = conv_bn(x, 1280, 1, activation=clip6)
    x = L.Dropout(0.2)(L.GlobalAveragePooling2D()(x))
    outputs = L.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def segmentation_head():
    """A small U-Net-style segmenter, 64x64x3 -> 64x64x4 class map: strided-conv encoder, a
    Conv2DTranspose, nearest and bilinear Resizing, skip concatenations, channel softmax."""
    inputs = keras.Input((64, 64, 3))
    e1 = conv_bn(inputs, 16, 3, strides=2)        # 32
    e2 = conv_bn(e1, 32, 3, strides=2)            # 16
    e3 = conv_bn(e2, 64, 3, strides=2)            # 8
    d2 = L.Conv2DTranspose(32, 3, strides=2, padding="same")(e3)                  # 16
    d2 = conv_bn(L.Concatenate()([d2, e2]), 32, 3)
    d1 = L.Resizing(32, 32, interpolation="nearest")(d2)                          # 32
    d1 = conv_bn(L.Concatenate()([d1, e1]), 16, 3)
    d0 = L.Resizing(64, 64, interpolation="bilinear")(d1)                         # 64
    outputs = L.Softmax()(L.Conv2D(4, 1)(d0))
    return keras.Model(inputs, outputs)


def two_inputs_two_outputs():
    """An image (32x32x3) and a feature vector (8) in; class probabilities (10) and a box (4) out."""
    image = keras.Input((32, 32, 3), name="image")
    features = keras.Input((8,), name="features")
    x = conv_bn(image, 16, 3, strides=2)
    x = separable(x, 32, strides=2)
    x = L.GlobalAveragePooling2D()(x)
    f = L.Dense(16, activation="relu")(features)
    x = L.Concatenate()([x, f])
    x = L.Dense(32, activation="relu")(x)
    probabilities = L.Dense(10, activation="softmax", name="class_probabilities")(x)
    box = L.Dense(4, activation="sigmoid", name="box")(x)
    return keras.Model([image, features], [probabilities, box])


def dilated_strided():
    """Dilated (2x2 and 2x3) conv and depthwise, stride-3/4 convs and depthwise, stride-3/4 max and
    average pools, 'same' and 'valid' padding; 96x96x3, 10 classes. The batch is fixed to 1: with a
    dynamic batch the converter leaves dilated convs as SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND."""
    inputs = keras.Input((96, 96, 3), batch_size=1)
    x = conv_bn(inputs, 8, 3, dilation_rate=2)                           # 96
    x = dw_bn(x, 3, dilation_rate=(2, 3))                                # 96
    x = conv_bn(x, 16, 5, strides=4)                                     # same: 24
    x = L.MaxPooling2D(3, strides=3, padding="valid")(x)                 # 8
    x = conv_bn(x, 16, 3, dilation_rate=2)                               # 8
    y = dw_bn(x, 3, strides=3)                                           # same: 3
    x = conv_bn(x, 32, 3, strides=3, padding="valid")                    # 2
    x = L.Concatenate()([L.AveragePooling2D(2, padding="valid")(x), L.MaxPooling2D(3, padding="valid")(y)])
    x = conv_bn(x, 32, 1)
    outputs = L.Dense(10, activation="softmax")(L.Flatten()(x))
    return keras.Model(inputs, outputs)


def strided_pools():
    """Stride-4 conv and stride-3/4 pools with 'same' padding where the window overhangs the map
    (the padded-edge counts of AVERAGE_POOL_2D), 60x60x3, 10 classes."""
    inputs = keras.Input((60, 60, 3))
    x = conv_bn(inputs, 16, 4, strides=4, padding="valid")               # 15
    a = L.AveragePooling2D(4, strides=4, padding="same")(x)              # 4
    m = L.MaxPooling2D(4, strides=3, padding="same")(x)                  # 5
    m = L.AveragePooling2D(3, strides=3, padding="same")(m)              # 2
    a = L.MaxPooling2D(2, strides=2, padding="valid")(a)                 # 2
    x = conv_bn(L.Concatenate()([a, m]), 32, 1)
    outputs = L.Dense(10, activation="softmax")(L.Flatten()(x))
    return keras.Model(inputs, outputs)


def activations():
    """Standalone activation ops on 32x32x3: LeakyReLU, PReLU (shared over space and per element),
    tanh, sigmoid, hard-swish, clip(-3, 3) (MINIMUM + MAXIMUM), clipped ReLU at 20 (MINIMUM + RELU),
    max-feature-map (SPLIT + MAXIMUM), and ReLU6 after a concatenation (a standalone RELU6)."""
    inputs = keras.Input((32, 32, 3))
    x = L.Conv2D(16, 3, padding="same")(inputs)
    x = L.LeakyReLU(negative_slope=0.1)(x)
    x = L.Conv2D(16, 3, strides=2, padding="same")(x)                    # 16
    x = L.PReLU(shared_axes=[1, 2])(x)
    x = L.DepthwiseConv2D(3, padding="same")(x)
    x = L.Activation("tanh")(x)
    x = L.Conv2D(16, 1)(x)
    x = L.Activation("sigmoid")(x)
    x = L.Conv2D(16, 3, strides=2, padding="same")(x)                    # 8
    x = L.PReLU()(x)                                                     # Keras' default: one slope per element
    x = L.Conv2D(16, 1)(x)
    x = L.Activation("hard_swish")(x)
    x = L.Conv2D(16, 1)(x)
    x = keras.ops.clip(x, -3.0, 3.0)
    x = L.Conv2D(32, 1)(x)
    x = L.ReLU(max_value=20.0)(x)
    x = L.Conv2D(32, 3, padding="same")(x)
    halves = L.Lambda(lambda t: tf.split(t, 2, axis=-1))(x)
    x = L.Maximum()(halves)                                              # max-feature-map (LightCNN)
    a = L.Conv2D(8, 1)(x)
    b = L.DepthwiseConv2D(3, padding="same")(x)
    x = L.ReLU(max_value=6.0)(L.Concatenate()([a, b]))
    # (clip(-1, 1) here would give RELU_N1_TO_1, which TFLite Micro does not implement)
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def tensor_ops():
    """Data-movement and broadcasting ops on 32x32x3: per-channel input normalisation (SUB, MUL with
    [3] constants), ZeroPadding2D (PAD), tf.pad with a non-zero value (PADV2), Permute (TRANSPOSE),
    tf.split equal (SPLIT) and sized (SPLIT_V) on the channel and height axes, CBAM-style attention
    (MEAN and REDUCE_MAX over channels, MUL broadcast over channels and over space), SUB of the
    channel mean, and a Keras Reshape (SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE)."""
    inputs = keras.Input((32, 32, 3))
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    x = L.Lambda(lambda t: (t - mean) * (1.0 / std))(inputs)
    x = L.ZeroPadding2D(((1, 2), (2, 1)))(x)                             # 35 x 35
    x = L.Conv2D(16, 3, strides=2, activation="relu")(x)                 # 17 x 17
    x = L.Lambda(lambda t: tf.pad(t, [[0, 0], [1, 0], [0, 1], [0, 0]], constant_values=1.0))(x)  # 18 x 18
    x = L.Permute((2, 1, 3))(x)                                          # swap H and W
    x = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)  # 9 x 9
    a, b = L.Lambda(lambda t: tf.split(t, 2, axis=-1))(x)
    x = L.Concatenate()([L.Conv2D(8, 1)(a), L.DepthwiseConv2D(3, padding="same")(b)])
    c, d, e = L.Lambda(lambda t: tf.split(t, [4, 8, 4], axis=-1))(x)
    x = L.Concatenate()([e, c, d])
    top, bottom = L.Lambda(lambda t: tf.split(t, [5, 4], axis=1))(x)
    x = L.Concatenate(axis=1)([bottom, top])
    # channel attention: x * sigmoid(dense(mean over space))
    gate = L.Dense(16, activation="sigmoid")(L.GlobalAveragePooling2D()(x))
    x = L.Multiply()([x, L.Reshape((1, 1, 16))(gate)])
    # spatial attention: x * sigmoid(conv([mean, max] over channels))
    pooled = L.Concatenate()([keras.ops.mean(x, axis=-1, keepdims=True), keras.ops.max(x, axis=-1, keepdims=True)])
    x = L.Multiply()([x, L.Conv2D(1, 7, padding="same", activation="sigmoid")(pooled)])
    x = L.Subtract()([x, keras.ops.mean(x, axis=-1, keepdims=True)])
    x = L.Reshape((81, 16))(x)
    x = L.Permute((2, 1))(x)
    x = L.Reshape((16 * 81,))(x)
    outputs = L.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


@dataclass(frozen=True)
class Architecture:
    name: str
    build: Callable[[], keras.Model]
    source: str
    inputs: tuple[InputData, ...]
    image: bool              # image models also get a uint8-input, float32-output variant


ARCHITECTURES = [
    Architecture("mlperf_resnet8", mlperf_resnet8,
                 "MLPerf Tiny v0.5+ training reference, benchmark/training/image_classification/keras_model.py "
                 "(resnet_v1_eembc, 16 filters as in the published pretrainedResnet)", (IMAGE_01,), True),
    Architecture("mlperf_dscnn_kws", mlperf_dscnn_kws,
                 "MLPerf Tiny training reference, benchmark/training/keyword_spotting/keras_model.py (ds_cnn); "
                 "Zhang et al. 2017, Hello Edge (arXiv:1711.07128)", (InputData("normal", 0.0, 10.0),), False),
    Architecture("mlperf_mobilenetv1_vww", mlperf_mobilenetv1_vww,
                 "MLPerf Tiny training reference, benchmark/training/visual_wake_words/vww_model.py (mobilenet_v1, "
                 "alpha 0.25); Howard et al. 2017 (arXiv:1704.04861)", (IMAGE_01,), True),
    Architecture("mlperf_fc_autoencoder", mlperf_fc_autoencoder,
                 "MLPerf Tiny training reference, benchmark/training/anomaly_detection/keras_model.py (DCASE 2020 "
                 "task 2 baseline autoencoder)", (InputData("normal", -30.0, 10.0),), False),
    Architecture("micro_speech", micro_speech,
                 "TFLite Micro examples/micro_speech; TensorFlow speech_commands models.py create_tiny_conv_model",
                 (InputData("uniform", 0.0, 26.0),), False),
    Architecture("hello_world", hello_world, "TFLite Micro examples/hello_world (train/train_hello_world_model)",
                 (InputData("uniform", 0.0, 2 * np.pi),), False),
    Architecture("audio_cnn_1d", audio_cnn_1d,
                 "Choi et al. 2019, Temporal Convolution for Real-time KWS (TC-ResNet, arXiv:1904.03814), "
                 "with Hello Edge's depthwise-separable blocks", (InputData("normal", 0.0, 4.0),), False),
    Architecture("mobilenetv2_035_128", mobilenetv2_035_128,
                 "keras.applications.MobileNetV2; Sandler et al. 2018 (arXiv:1801.04381)", (IMAGE_PM1,), True),
    Architecture("fd_mobilenet_025_128", fd_mobilenet_025_128,
                 "Qin et al. 2018, FD-MobileNet (arXiv:1802.03750), table 1; as in the STM32 model zoo's "
                 "fdmobilenet 0.25 128", (IMAGE_PM1,), True),
    Architecture("efficientnet_lite_style", efficientnet_lite_style,
                 "EfficientNet-lite (TensorFlow TPU repository, models/official/efficientnet/lite); "
                 "Tan & Le 2019 (arXiv:1905.11946)", (IMAGE_PM1,), True),
    Architecture("segmentation_head", segmentation_head,
                 "Ronneberger et al. 2015, U-Net (arXiv:1505.04597), reduced", (IMAGE_01,), True),
    Architecture("two_inputs_two_outputs", two_inputs_two_outputs, "synthetic: multi-input, multi-output Keras model",
                 (IMAGE_01, InputData("normal", 0.0, 3.0)), True),
    Architecture("dilated_strided", dilated_strided,
                 "synthetic: Yu & Koltun 2016 dilated convolutions (arXiv:1511.07122); stride 3/4 convs and pools",
                 (IMAGE_01,), True),
    Architecture("strided_pools", strided_pools, "synthetic: stride-3/4 pools with 'same' padding", (IMAGE_01,), True),
    Architecture("activations", activations,
                 "synthetic: Keras activation layers; max-feature-map from Wu et al. 2018, LightCNN "
                 "(arXiv:1511.02683); clipped ReLU 20 from DeepSpeech (arXiv:1412.5567)", (IMAGE_01,), True),
    Architecture("tensor_ops", tensor_ops,
                 "synthetic: Keras data-movement layers; CBAM attention, Woo et al. 2018 (arXiv:1807.06521)",
                 (IMAGE_01,), True),
]


@dataclass(frozen=True)
class Edges:
    suffix: str
    input_type: tf.dtypes.DType
    output_type: tf.dtypes.DType
    text: str


INT8_EDGES = Edges("int8", tf.int8, tf.int8, "int8 input, int8 output")
U8F32_EDGES = Edges("u8f32", tf.uint8, tf.float32, "uint8 input, float32 output")


# ---------------------------------------------------------------------------------------------
# Weights, conversion

def fresh_model(arch: Architecture, seed: int) -> keras.Model:
    """The same seed gives the same layer names and weights whatever was built before."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    return arch.build()


def calibration_inputs(arch: Architecture, model: keras.Model, seed: int, n: int, salt: int) -> list[np.ndarray]:
    rng = np.random.default_rng([seed, salt])
    return [spec.draw(rng, n, tuple(t.shape[1:])) for spec, t in zip(arch.inputs, model.inputs)]


def set_realistic_statistics(arch: Architecture, model: keras.Model, seed: int) -> None:
    """Random BN scale/shift, biases and PReLU slopes, then every BN's moving mean and variance from one
    training-mode pass over synthetic data: each layer sees the statistics of its real input, so the
    quantization ranges look like a trained model's rather than the identity BN of a fresh one."""
    rng = np.random.default_rng([seed, 1])
    norms = [layer for layer in model.layers if isinstance(layer, L.BatchNormalization)]
    for layer in norms:
        channels = layer.gamma.shape[0]
        layer.gamma.assign(rng.uniform(0.5, 1.5, channels).astype(np.float32))
        layer.beta.assign(rng.normal(0.0, 0.25, channels).astype(np.float32))
    for layer in model.layers:
        if isinstance(layer, L.PReLU):
            layer.alpha.assign(rng.uniform(0.05, 0.3, layer.alpha.shape).astype(np.float32))
        # Keras starts biases at zero and the converter drops a zero bias (TRANSPOSE_CONV loses its operand)
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(rng.normal(0.0, 0.1, layer.bias.shape).astype(np.float32))
    if not norms:
        return
    saved = [(layer, layer.momentum) for layer in norms]
    dropouts = [(layer, layer.rate) for layer in model.layers if isinstance(layer, L.Dropout)]
    for layer in norms:
        layer.momentum = 0.0
    for layer, _ in dropouts:
        layer.rate = 0.0
    batch = calibration_inputs(arch, model, seed, BN_STATISTICS_SAMPLES, salt=2)
    model(batch if len(batch) > 1 else batch[0], training=True)
    for layer, momentum in saved:
        layer.momentum = momentum
    for layer, rate in dropouts:
        layer.rate = rate


def convert(arch: Architecture, model: keras.Model, edges: Edges, seed: int) -> bytes:
    samples = calibration_inputs(arch, model, seed, CALIBRATION_SAMPLES, salt=3)
    names = [t.name for t in model.inputs]

    def representative_dataset():
        for i in range(CALIBRATION_SAMPLES):
            # by signature input name: the converter orders a model's inputs by name, not as Keras lists them
            yield {name: data[i:i + 1] for name, data in zip(names, samples)}

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.representative_dataset = representative_dataset
    converter.inference_input_type = edges.input_type
    converter.inference_output_type = edges.output_type
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return converter.convert()


# ---------------------------------------------------------------------------------------------
# What the converter wrote

OPCODE_NAMES = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
TYPE_NAMES = {value: name.lower() for name, value in vars(schema.TensorType).items() if not name.startswith("_")}
PADDING_NAMES = {value: name for name, value in vars(schema.Padding).items() if not name.startswith("_")}


def opcode_name(model, op) -> str:
    code = model.operatorCodes[op.opcodeIndex]
    return OPCODE_NAMES[max(code.builtinCode, code.deprecatedBuiltinCode)]


def tensor_entry(tensor) -> dict:
    entry = {
        "name": tensor.name.decode(),
        "dtype": TYPE_NAMES[tensor.type],
        "shape": [int(s) for s in tensor.shape],
    }
    quant = tensor.quantization
    if quant is not None and quant.scale is not None and len(quant.scale):
        entry["scale"] = [float(s) for s in quant.scale]
        entry["zero_point"] = [int(z) for z in quant.zeroPoint]
    return entry


def macs(subgraph, op, name: str) -> int:
    """Multiply-accumulates of the conv-like ops (the usual count; elementwise ops count 0)."""
    tensors = subgraph.tensors
    out_elems = int(np.prod(tensors[op.outputs[0]].shape))
    if name == "CONV_2D":
        _, kh, kw, cin = tensors[op.inputs[1]].shape
        return out_elems * int(kh * kw * cin)
    if name == "DEPTHWISE_CONV_2D":
        _, kh, kw, _ = tensors[op.inputs[1]].shape
        return out_elems * int(kh * kw)
    if name == "FULLY_CONNECTED":
        return out_elems * int(tensors[op.inputs[1]].shape[-1])
    if name == "TRANSPOSE_CONV":
        cout, kh, kw, _ = tensors[op.inputs[1]].shape
        return int(np.prod(tensors[op.inputs[2]].shape)) * int(kh * kw * cout)
    return 0


def pool_entry(model, subgraph, op, name: str) -> str | None:
    """The pools and reductions, so the manifest says how each model's global pooling arrived."""
    tensors = subgraph.tensors
    shape = [int(s) for s in tensors[op.inputs[0]].shape]
    if name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        o = op.builtinOptions
        kind = "global" if (o.filterHeight, o.filterWidth) == (shape[1], shape[2]) else "windowed"
        return (f"{name} {o.filterHeight}x{o.filterWidth} stride {o.strideH}x{o.strideW} "
                f"{PADDING_NAMES[o.padding]} on {'x'.join(map(str, shape))} ({kind})")
    if name in ("MEAN", "REDUCE_MAX", "REDUCE_MIN", "SUM"):
        raw = model.buffers[tensors[op.inputs[1]].buffer].data
        axes = np.frombuffer(np.asarray(raw, np.uint8).tobytes(), np.int32).tolist()
        return f"{name} axes {axes} on {'x'.join(map(str, shape))}"
    return None


def describe(data: bytes) -> dict:
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    if len(model.subgraphs) != 1:
        raise SystemExit(f"the converter wrote {len(model.subgraphs)} subgraphs; the corpus expects one")
    subgraph = model.subgraphs[0]
    names = [opcode_name(model, op) for op in subgraph.operators]
    pools = [p for op, n in zip(subgraph.operators, names) if (p := pool_entry(model, subgraph, op, n))]
    return {
        "inputs": [tensor_entry(subgraph.tensors[i]) for i in subgraph.inputs],
        "outputs": [tensor_entry(subgraph.tensors[i]) for i in subgraph.outputs],
        "operators": len(names),
        "ops": dict(sorted(Counter(names).items())),
        "macs": sum(macs(subgraph, op, n) for op, n in zip(subgraph.operators, names)),
        "pools": pools,
        "shape_based_reshape": "SHAPE" in names,
    }


# ---------------------------------------------------------------------------------------------

def write_atomic(path: Path, data: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
        handle.write(data)
    os.replace(handle.name, path)


def variants(arch: Architecture) -> list[Edges]:
    return [INT8_EDGES, U8F32_EDGES] if arch.image else [INT8_EDGES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the .tflite files and manifest.json")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="architectures (e.g. mlperf_resnet8) or files (e.g. mlperf_resnet8_u8f32) to rebuild; "
                             "the manifest keeps the other entries")
    parser.add_argument("--seed", type=int, default=0, help="weights, BN statistics and calibration data")
    args = parser.parse_args()

    known = {arch.name for arch in ARCHITECTURES} | {f"{a.name}_{e.suffix}" for a in ARCHITECTURES for e in variants(a)}
    unknown = sorted(set(args.only or []) - known)
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    args.out.mkdir(parents=True, exist_ok=True)
    manifest_path = args.out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if args.only and manifest_path.exists() else {}
    entries = manifest.get("models", {})

    for arch in ARCHITECTURES:
        wanted = [e for e in variants(arch) if not args.only or arch.name in args.only
                  or f"{arch.name}_{e.suffix}" in args.only]
        if not wanted:
            continue
        model = fresh_model(arch, args.seed)
        set_realistic_statistics(arch, model, args.seed)
        for edges in wanted:
            name = f"{arch.name}_{edges.suffix}"
            started = time.monotonic()
            data = convert(arch, model, edges, args.seed)
            write_atomic(args.out / f"{name}.tflite", data)
            facts = describe(data)
            entries[name] = {
                "file": f"{name}.tflite",
                "architecture": arch.name,
                "description": " ".join(arch.build.__doc__.split()),
                "source": arch.source,
                "edges": edges.text,
                "converter": f"tensorflow {tf.__version__} TFLiteConverter.from_keras_model, keras {keras.__version__}",
                "converter_settings": {
                    "optimizations": ["DEFAULT"],
                    "supported_ops": ["TFLITE_BUILTINS_INT8"],
                    "inference_input_type": edges.input_type.name,
                    "inference_output_type": edges.output_type.name,
                    "representative_samples": CALIBRATION_SAMPLES,
                },
                "seed": args.seed,
                "calibration_data": [spec.text for spec in arch.inputs],
                "keras_params": int(model.count_params()),
                **facts,
                "size_bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            ops = ", ".join(f"{op} {n}" for op, n in facts["ops"].items())
            print(f"{name}: {len(data):,} B, {facts['macs']:,} MACs, {time.monotonic() - started:.1f} s; {ops}",
                  flush=True)

    manifest = {
        "generator": "scripts/make_corpus.py",
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "models": dict(sorted(entries.items())),
    }
    write_atomic(manifest_path, (json.dumps(manifest, indent=1) + "\n").encode())
    total = sum(e["size_bytes"] for e in entries.values())
    print(f"{len(entries)} models, {total:,} B in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
