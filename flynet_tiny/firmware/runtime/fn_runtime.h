/* Runtime used by generated models and benchmark programs: console output and
 * per-layer markers.
 *
 * fn_layer_begin / fn_layer_end bracket one layer. They print `@layer-begin` and
 * `@layer-end` lines (the host runner reads them), read the board cycle counter, and
 * call the marker functions fn_marker_layer_begin / fn_marker_layer_end, whose entry
 * addresses the QEMU counting plugin watches. A segment counted by the plugin runs from
 * the first instruction of fn_marker_layer_begin (included) to the first instruction
 * of fn_marker_layer_end (excluded). */
#ifndef FN_RUNTIME_H
#define FN_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#if defined(FN_LIBRARY_ONLY)
/* Library-only build (model + kernels dropped into an existing STM32Cube project): the
 * project owns the console and the timing, so the layer hooks compile to nothing. */
static inline void fn_layer_begin(int index, const char *name)
{
    (void)index;
    (void)name;
}
static inline void fn_layer_end(int index)
{
    (void)index;
}
#else
/* printf-style output to the board console (UART or semihosting), up to 255 chars. */
void fn_print(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* Prints `@output <index> <hex bytes>` (one line, any length): the host runner returns
 * these bytes as RunResult.outputs[index], to compare with a reference bit for bit. */
void fn_emit_output(int index, const void *data, size_t n_bytes);

void fn_layer_begin(int index, const char *name);
void fn_layer_end(int index);

/* The layer running now, for the HardFault report; -1 / NULL outside layers. */
extern volatile int fn_current_layer_index;
extern const char *volatile fn_current_layer_name;

/* Marker functions (firmware/runtime/fn_markers.S): one `bx lr` each. */
void fn_marker_layer_begin(void);
void fn_marker_layer_end(void);

#endif /* FN_LIBRARY_ONLY */

#endif
