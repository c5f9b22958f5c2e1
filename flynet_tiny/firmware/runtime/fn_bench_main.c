/* Benchmark main for a generated model: runs every embedded test sample through flynet_invoke,
 * emits each output (`@output <sample * FLYNET_OUTPUT_COUNT + output> <hex>`), and per-layer cycles
 * come from the runtime's layer hooks. Built with FLYNET_LAYER_CHECKSUMS (as `flynet-tiny bench`
 * does), it also prints `@checksums <sample> <hex FNV-1a per layer>`, so the host can name the first
 * layer whose output differs from its own build. fn_bench_config.h is written by the build
 * (flynet_tiny/build/bench_firmware.py): it includes the model header and defines
 * FN_TEST_INPUT_COUNT, fn_test_inputs (a sample's inputs at fn_input_offsets) and the output
 * buffer's layout (for outputs not computed in the arena). */
#include <stdint.h>

#include "fn_bench_config.h"
#include "fn_runtime.h"

static uint8_t output[FN_OUTPUT_BUFFER_BYTES] __attribute__((aligned(4)));

int main(void)
{
    fn_print("flynet: %d layers, arena %d bytes, %d inputs\n", FLYNET_LAYER_COUNT, FLYNET_ARENA_BYTES,
             FN_TEST_INPUT_COUNT);
    for (int i = 0; i < FN_TEST_INPUT_COUNT; ++i) {
        const void *inputs[FLYNET_INPUT_COUNT];
        void *outputs[FLYNET_OUTPUT_COUNT];
        for (int k = 0; k < FLYNET_INPUT_COUNT; ++k) {
            inputs[k] = fn_test_inputs[i] + fn_input_offsets[k];
        }
        for (int k = 0; k < FLYNET_OUTPUT_COUNT; ++k) {
            /* An output computed in the arena is read in its slot, as a RAM-tight application would. */
            void *slot = flynet_output_buffer(k);
            outputs[k] = slot ? slot : output + fn_output_offsets[k];
        }
        if (flynet_invoke(inputs, outputs) != 0) {
            fn_print("*** model error: layer %d (%s) status %d\n", flynet_error_layer,
                     flynet_error_layer >= 0 ? flynet_layer_names[flynet_error_layer] : "-", flynet_error_status);
            return 1;
        }
        for (int k = 0; k < FLYNET_OUTPUT_COUNT; ++k) {
            fn_emit_output(i * FLYNET_OUTPUT_COUNT + k, outputs[k], fn_output_sizes[k]);
        }
#ifdef FLYNET_LAYER_CHECKSUMS
        fn_print("@checksums %d", i);
        for (int layer = 0; layer < FLYNET_LAYER_COUNT; ++layer)
            fn_print(" %08lx", (unsigned long)flynet_layer_checksums[layer]);
        fn_print("\n");
#endif
    }
    return 0;
}
