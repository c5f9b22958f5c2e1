/* FULLY_CONNECTED int8 on weights packed in row pairs (flynet_kernels.h, flynet_tiny/codegen/fc_pairs.py):
 * TFLM reference_integer_ops::FullyConnected with the input offset already in the bias. */
#include "../support/fn_internal.h"
#include "fully_connected_pairs_s8_dsp.h"

#if !FN_USE_DSP
#define FC_GROUP 4

/* Lane positions of a pair: its group g's lanes start at base + g * step (4 lanes, inputs 0, 2, 1, 3). */
static void pair_lanes(int32_t pairs, int32_t groups, int32_t pair, int32_t *base, int32_t *step)
{
    const int32_t quads = pairs >> 1;
    if (pair < 2 * quads) {
        *base = (pair >> 1) * groups * 8 + (pair & 1) * 4;
        *step = 8;
    } else {
        *base = quads * groups * 8;
        *step = 4;
    }
}

/* Row 2p (high = 0) or 2p+1 (high = 1) of lane `lane`: L = lo + 256 * hi as bytes, w_lo = (int8)lo and
 * w_hi = (L - w_lo) / 256 = hi + 1 where lo's top bit is set. */
static int32_t pair_weight(const int8_t *packed, int32_t lane, int32_t high)
{
    const int32_t lo = packed[2 * lane];
    return high ? packed[2 * lane + 1] + (lo < 0 ? 1 : 0) : lo;
}

static void fc_pairs_portable(const fn_fc_pairs_params *p, const int32_t *requant, int32_t in_features,
                              const int8_t *x, int32_t out_features, const int8_t *packed, const int32_t *bias,
                              int8_t *output)
{
    static const int8_t lane_of_input[FC_GROUP] = {0, 2, 1, 3};
    const int32_t groups = (in_features + FC_GROUP - 1) / FC_GROUP;
    const int32_t pairs = (out_features + 1) >> 1;
    for (int32_t o = 0; o < out_features; ++o) {
        int32_t base, step;
        pair_lanes(pairs, groups, o >> 1, &base, &step);
        const int32_t *rq = p->per_channel ? requant + 2 * o : requant;
        int32_t acc = bias[o];
        for (int32_t k = 0; k < in_features; ++k) {
            const int32_t lane = base + (k / FC_GROUP) * step + lane_of_input[k % FC_GROUP];
            acc = fn_wrap_add(acc, pair_weight(packed, lane, o & 1) * (int32_t)x[k]);
        }
        output[o] = fn_requant_s8(acc, rq[0], -rq[1] - 1, p->output_offset, p->act_min, p->act_max);
    }
}
#endif

int32_t fn_fully_connected_pairs_s8_get_buffer_size(const fn_dims *in_dims, const fn_dims *out_dims)
{
    if (!in_dims || !out_dims || in_dims->c < 1) {
        return 0;
    }
#if FN_USE_DSP
    return fc_pairs_scratch_bytes(in_dims->n, in_dims->c, out_dims->c);
#else
    return 0;
#endif
}

fn_status fn_fully_connected_pairs_s8(const fn_fc_pairs_params *p, const int32_t *requant, int32_t batches,
                                      int32_t in_features, const int8_t *input, int32_t out_features,
                                      const int8_t *packed_weights, const int32_t *bias, int8_t *output,
                                      void *scratch)
{
    if (!p || !requant || !input || !packed_weights || !bias || !output) {
        return FN_ERR_ARGUMENT;
    }
    if (batches < 1 || in_features < 1 || out_features < 1) {
        return FN_ERR_SHAPE;
    }
#if FN_USE_DSP
    if (!scratch && fc_pairs_scratch_bytes(batches, in_features, out_features)) {
        return FN_ERR_ARGUMENT;
    }
#else
    (void)scratch;
#endif
#if FN_USE_DSP
    fc_pairs_dsp(p, requant, batches, in_features, input, out_features, packed_weights, bias, output,
                 (int16_t *)scratch);
#else
    for (int32_t b = 0; b < batches; ++b) {
        fc_pairs_portable(p, requant, in_features, input + b * in_features, out_features, packed_weights, bias,
                          output + b * out_features);
    }
#endif
    return FN_OK;
}
