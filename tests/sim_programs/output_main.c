/* Emits three outputs: 300 bytes of (i * 7) mod 256, an empty one, and the int8 value -3. */
#include <stdint.h>

#include "fn_runtime.h"

int main(void)
{
    static uint8_t pattern[300];
    for (int i = 0; i < 300; ++i)
        pattern[i] = (uint8_t)(i * 7);
    fn_emit_output(0, pattern, sizeof pattern);
    fn_emit_output(1, pattern, 0);
    const int8_t negative = -3;
    fn_emit_output(2, &negative, 1);
    fn_print("done\n");
    return 0;
}
