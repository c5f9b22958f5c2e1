/* Faults inside layer 2 ("conv_bad"): FAULT_UDF executes an undefined instruction at the
 * global label fn_test_udf, FAULT_LOCKUP also points the stack at unmapped memory so the
 * HardFault entry itself faults (lock-up), FAULT_HANG spins forever. */
#include "fn_runtime.h"

int main(void)
{
    fn_layer_begin(1, "stem");
    fn_layer_end(1);
    fn_layer_begin(2, "conv_bad");
#if defined(FAULT_LOCKUP)
    __asm volatile("msr msp, %0\n\tudf #0" ::"r"(0xFFFFFF00u));
#elif defined(FAULT_HANG)
    for (;;)
        __asm volatile("");
#else
    __asm volatile(".global fn_test_udf\nfn_test_udf: udf #0");
#endif
    fn_layer_end(2);
    return 0;
}
