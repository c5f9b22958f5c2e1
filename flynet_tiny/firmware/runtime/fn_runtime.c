#include "fn_runtime.h"

#include <stdarg.h>
#include <stdio.h>

#include "fn_board.h"

volatile int fn_current_layer_index = -1;
const char *volatile fn_current_layer_name = NULL;
static uint32_t layer_start_cycles;

void fn_print(const char *format, ...)
{
    char buffer[256];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(buffer, sizeof buffer, format, args);
    va_end(args);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buffer)
        n = sizeof buffer - 1;
    fn_board_write(buffer, (size_t)n);
}

void fn_emit_output(int index, const void *data, size_t n_bytes)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *bytes = data;
    char chunk[128];
    fn_print("@output %d ", index);
    size_t used = 0;
    for (size_t i = 0; i < n_bytes; ++i) {
        chunk[used++] = digits[bytes[i] >> 4];
        chunk[used++] = digits[bytes[i] & 0xF];
        if (used == sizeof chunk) {
            fn_board_write(chunk, used);
            used = 0;
        }
    }
    chunk[used++] = '\n';
    fn_board_write(chunk, used);
}

void fn_layer_begin(int index, const char *name)
{
    fn_current_layer_index = index;
    fn_current_layer_name = name;
    fn_print("@layer-begin %d %s\n", index, name);
    layer_start_cycles = fn_board_cycles();
    fn_marker_layer_begin();
}

void fn_layer_end(int index)
{
    fn_marker_layer_end();
    uint32_t cycles = fn_board_cycles() - layer_start_cycles;
    fn_print("@layer-end %d cycles=%lu\n", index, (unsigned long)cycles);
    fn_current_layer_index = -1;
    fn_current_layer_name = NULL;
}
