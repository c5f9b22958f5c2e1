/* The walk of a reduction over any axes of a 4-D tensor, shared by REDUCE_MAX and MEAN. */
#ifndef FN_REDUCE_INTERNAL_H
#define FN_REDUCE_INTERNAL_H

#include "../support/fn_internal.h"

/* The input's axes in two groups of at most two runs each (outermost first): the kept runs give the
 * outputs in order, the reduced runs the elements of one output. Adjacent axes of a group merge into
 * one run where they are contiguous (axes of size 1 drop out), and 4 axes alternate between the groups
 * at most 4 times, so 2 runs per group always suffice. */
typedef struct {
    int32_t kept_size[2], kept_stride[2];
    int32_t reduced_size[2], reduced_stride[2];
    int32_t count; /* elements per output */
} reduce_walk;

static inline void reduce_add_run(int32_t size, int32_t stride, int32_t sizes[2], int32_t strides[2],
                                  int32_t *runs)
{
    if (size == 1) {
        return;
    }
    /* Runs come innermost first: an axis whose stride is the last run's extent continues it. */
    if (*runs > 0 && stride == strides[*runs - 1] * sizes[*runs - 1]) {
        sizes[*runs - 1] *= size;
        return;
    }
    sizes[*runs] = size;
    strides[*runs] = stride;
    ++*runs;
}

/* `reduced` flags the reduced axes (1) of `in`; FN_ERR_ARGUMENT where a flag is not 0 / 1. */
static inline fn_status reduce_walk_make(const fn_dims *in, const fn_dims *reduced, reduce_walk *walk)
{
    if (!fn_dims_valid(in) || !reduced) {
        return FN_ERR_SHAPE;
    }
    const int32_t size[4] = {in->n, in->h, in->w, in->c};
    const int32_t flag[4] = {reduced->n, reduced->h, reduced->w, reduced->c};
    int32_t kept_sizes[2], kept_strides[2], reduced_sizes[2], reduced_strides[2];
    int32_t kept_runs = 0, reduced_runs = 0, stride = 1;
    for (int i = 3; i >= 0; --i) {
        if (flag[i] != 0 && flag[i] != 1) {
            return FN_ERR_ARGUMENT;
        }
        if (flag[i]) {
            reduce_add_run(size[i], stride, reduced_sizes, reduced_strides, &reduced_runs);
        } else {
            reduce_add_run(size[i], stride, kept_sizes, kept_strides, &kept_runs);
        }
        stride *= size[i];
    }
    /* Outermost first: place 1 (the inner loop) holds the innermost run, place 0 the other run or,
     * where a group has one run, a run of one element (so the inner loop never runs once per value). */
    walk->count = 1;
    for (int32_t place = 0; place < 2; ++place) {
        const int32_t run = 1 - place;
        walk->kept_size[place] = run < kept_runs ? kept_sizes[run] : 1;
        walk->kept_stride[place] = run < kept_runs ? kept_strides[run] : 0;
        walk->reduced_size[place] = run < reduced_runs ? reduced_sizes[run] : 1;
        walk->reduced_stride[place] = run < reduced_runs ? reduced_strides[run] : 0;
        walk->count *= walk->reduced_size[place];
    }
    return FN_OK;
}

#endif /* FN_REDUCE_INTERNAL_H */
