/* Benchmark main for a generated model: runs every embedded test input through
 * flynet_invoke, emits each output (`@output <input> <hex>`), and per-layer cycles come
 * from the runtime's layer hooks. Built with FLYNET_LAYER_CHECKSUMS (as `flynet-tiny bench`
 * does), it also prints `@checksums <input> <hex FNV-1a per layer>`, so the host can name
 * the first layer whose output differs from its own build. fn_bench_config.h is written by the build
 * (flynet_tiny/codegen/build.py: build_model_firmware): it includes the model header and
 * defines FN_TEST_INPUT_COUNT and fn_test_inputs. */
#include <stdint.h>

#include "fn_bench_config.h"
#include "fn_runtime.h"

static int8_t output[FLYNET_OUTPUT_BYTES];

int main(void)
{
    fn_print("flynet: %d layers, arena %d bytes, %d inputs\n", FLYNET_LAYER_COUNT, FLYNET_ARENA_BYTES,
             FN_TEST_INPUT_COUNT);
    for (int i = 0; i < FN_TEST_INPUT_COUNT; ++i) {
        if (flynet_invoke(fn_test_inputs[i], output) != 0) {
            fn_print("*** model error: layer %d (%s) status %d\n", flynet_error_layer,
                     flynet_error_layer >= 0 ? flynet_layer_names[flynet_error_layer] : "-", flynet_error_status);
            return 1;
        }
        fn_emit_output(i, output, sizeof output);
#ifdef FLYNET_LAYER_CHECKSUMS
        fn_print("@checksums %d", i);
        for (int layer = 0; layer < FLYNET_LAYER_COUNT; ++layer)
            fn_print(" %08lx", (unsigned long)flynet_layer_checksums[layer]);
        fn_print("\n");
#endif
    }
    return 0;
}
