/* Runs count_loop LOOP_N times inside layer 0 ("loop"), then returns 0. */
#include <stdint.h>

#include "fn_runtime.h"

void count_loop(uint32_t n, volatile uint32_t *word);

static volatile uint32_t word = 5;

int main(void)
{
    fn_current_layer_index = 0;
    fn_current_layer_name = "loop";
    fn_print("@layer-begin 0 loop\n");
    count_loop(LOOP_N, &word);
    fn_print("@layer-end 0 cycles=0\n");
    return 0;
}
