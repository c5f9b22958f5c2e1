"""FULLY_CONNECTED weights packed in row pairs for `fn_fully_connected_pairs_s8` (flynet_kernels.h).

Rows 2p and 2p+1 of the [out][in] weights become one int16 lane per input, L = w[2p][k] + 256 * w[2p+1][k],
stored little-endian. One SMLAD of a lane word against two int16 inputs adds w[2p] . x + 256 * (w[2p+1] . x) to
one accumulator; SXTB16 of the same word gives row 2p's weights alone for a second one, so 4 weights cost
one load share, one SXTB16 and two SMLADs, and row 2p+1 is (first - second) / 256. L fits int16 only while
no weight is -128 (TFLite's int8 weights are symmetric, -127..127): `pairs_apply` checks.

Layout (in int16 lanes; K4 = in_features rounded up to 4, G = K4 / 4 groups of 4 inputs, P pairs with a zero
row after an odd last row; inputs and rows past the model's are zero weights):
- pairs go two at a time (quads of 4 rows), then the last pair alone when P is odd;
- a quad stores per group its first pair's 4 lanes, then its second pair's; the lone pair its 4 lanes;
- a pair's 4 lanes of group g are inputs 4g, 4g + 2, 4g + 1, 4g + 3 (the order SXTB16 splits a word into).

The input offset goes into the bias (bias + input_offset * row sum), so the kernel multiplies raw int8
inputs. Requantization is one (multiplier, -shift - 1) pair of words per output channel, or one for all.
"""

from __future__ import annotations

import numpy as np

LANE_OF_INPUT = (0, 2, 1, 3)  # input 4g + i sits in lane LANE_OF_INPUT[i] of its pair's group
GROUP_DEPTH = 4
# The kernel adds at most this many groups before taking row 2p+1 out of the first accumulator: over
# 4 * 128 inputs |w . x| <= 512 * 127 * 128 < 2^23, so (first - second) / 256 is exact in 32 bits.
CHUNK_GROUPS = 128


def pairs_apply(weights: np.ndarray) -> bool:
    """Whether these int8 weights fit the lanes: none is -128."""
    return bool(weights.size) and int(weights.min()) >= -127


def padded_sizes(out_features: int, in_features: int) -> tuple[int, int]:
    """(rows rounded up to a pair, inputs rounded up to a group)."""
    return out_features + out_features % 2, -(-in_features // GROUP_DEPTH) * GROUP_DEPTH


def lane_index(pairs: int, groups: int, pair: int, k: int) -> int:
    """Position (in int16 lanes) of pair `pair`'s lane for input k."""
    g, lane = divmod(k, GROUP_DEPTH)
    lane = LANE_OF_INPUT[lane]
    quads = pairs // 2
    if pair < 2 * quads:
        return (pair // 2) * groups * 8 + g * 8 + (pair % 2) * 4 + lane
    return quads * groups * 8 + g * 4 + lane


def pack_weights(weights: np.ndarray) -> np.ndarray:
    """[out][in] int8 weights -> the packed bytes (int8), rows_padded * inputs_padded of them."""
    out_features, in_features = weights.shape
    rows, depth = padded_sizes(out_features, in_features)
    w = np.zeros((rows, depth), dtype=np.int32)
    w[:out_features, :in_features] = weights
    pairs, groups = rows // 2, depth // GROUP_DEPTH
    lanes_by_pair = w[0::2] + 256 * w[1::2]  # [pairs][depth]
    packed = np.zeros(pairs * depth, dtype=np.int16)
    for pair in range(pairs):
        index = [lane_index(pairs, groups, pair, k) for k in range(depth)]
        packed[index] = lanes_by_pair[pair]
    return packed.astype("<i2").view(np.int8)


def folded_bias(weights: np.ndarray, bias: np.ndarray | None, input_offset: int) -> np.ndarray:
    """bias + input_offset * (row sum of the weights), wrapped to int32 as TFLM's int32 accumulator wraps."""
    total = input_offset * weights.astype(np.int64).sum(axis=1)
    if bias is not None:
        total = total + bias.astype(np.int64)
    return total.astype(np.int64).astype(np.uint32).astype(np.int32)  # modulo 2^32


def requant_table(multipliers: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """(multiplier, s = -shift - 1) per channel: the DSP build shifts by e = -shift = s + 1 as an ASR by s and
    SSAT's ASR #1, its rounding addend (2 * output_offset + 1) << s."""
    table = np.zeros((len(multipliers), 2), dtype=np.int64)
    for c, (m, s) in enumerate(zip(multipliers, shifts)):
        table[c] = (int(m), -int(s) - 1)
    return table.astype(np.int32).reshape(-1)


def fast_requant_applies(bias: np.ndarray, shifts: np.ndarray, in_features: int) -> bool:
    """The DSP build's one-instruction requantization is exact for every output: each shift is a right shift
    of 1..22 and every accumulator (folded bias + in_features products of |w| <= 127, |x| <= 128) is below 2^30."""
    if any(not -22 <= int(s) <= -1 for s in shifts):
        return False
    largest = int(np.abs(bias.astype(np.int64)).max()) if bias.size else 0
    return largest + in_features * 127 * 128 < (1 << 30)


# Largest map (in pixels) whose 1x1 stride-1 convs run as row-pair FCs: benchmarks/pointwise_paths.py on the
# F446RE measured the FC path 0.20-0.98x the conv kernel's instructions at 1-16 pixels (3x3x256 -> 256: 0.88
# against 1.23 per MAC; the conv kernel's tiles re-expand every channel pair's weights per block of 2 tiles
# there) and 1.12-1.93x from 25 pixels up, where the tiles share each expanded weight over many pixels.
POINTWISE_PAIRS_MAX_PIXELS = 16


def pointwise_prefers_pairs(pixels: int, in_channels: int, out_channels: int) -> bool:
    """Whether a 1x1 stride-1 conv over `pixels` runs faster as fn_fully_connected_pairs_s8 than in the conv
    kernel (benchmarks/pointwise_paths.py measures both)."""
    return pixels <= POINTWISE_PAIRS_MAX_PIXELS
