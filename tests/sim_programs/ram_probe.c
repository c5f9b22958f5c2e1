/* Writes, reads back and restores one word at each address in RAM_PROBES (a -D list);
 * prints every address that does not hold what was written, exits 1 if any. */
#include <stdint.h>

#include "fn_runtime.h"

int main(void)
{
    static const uint32_t probes[] = {RAM_PROBES};
    int missing = 0;
    for (unsigned i = 0; i < sizeof probes / sizeof probes[0]; ++i) {
        volatile uint32_t *word = (volatile uint32_t *)probes[i];
        uint32_t kept = *word;
        *word = 0xA5A5A5A5u ^ i;
        if (*word != (0xA5A5A5A5u ^ i)) {
            fn_print("no RAM at 0x%08lx\n", (unsigned long)probes[i]);
            missing = 1;
        }
        *word = kept;
    }
    return missing;
}
