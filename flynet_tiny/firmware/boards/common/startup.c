/* Vector table, reset and fault handling shared by every board build.
 * Reset_Handler: FPU on, .data copied from flash, .bss zeroed, board init, C++ style
 * constructors, main(), then fn_board_exit(main's return value). */
#include <stdint.h>

#include "fn_board.h"
#include "fn_cortexm.h"
#include "fn_runtime.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern void __libc_init_array(void);
extern int main(void);

void Reset_Handler(void) __attribute__((noreturn));
void HardFault_Handler(void);
void Default_Handler(void);

/* Newlib's __libc_init_array calls _init; with -nostartfiles nobody else defines it. */
void _init(void) {}
void _fini(void) {}

static void fn_fpu_enable(void)
{
    SCB_CPACR |= 0xFu << 20; /* CP10 and CP11 full access */
    fn_dsb_isb();
}

void Reset_Handler(void)
{
    fn_fpu_enable();
    for (uint32_t *src = &_sidata, *dst = &_sdata; dst < &_edata;)
        *dst++ = *src++;
    for (uint32_t *dst = &_sbss; dst < &_ebss;)
        *dst++ = 0;
    fn_board_init();
    __libc_init_array();
    fn_board_exit(main());
}

/* Called from HardFault_Handler with the stacked exception frame: r0-r3, r12, lr, pc, xPSR. */
void fn_hardfault_report(const uint32_t *frame) __attribute__((used, noreturn));
void fn_hardfault_report(const uint32_t *frame)
{
    fn_print("*** HardFault layer=%d name=%s pc=0x%08lx lr=0x%08lx xpsr=0x%08lx "
             "cfsr=0x%08lx hfsr=0x%08lx mmfar=0x%08lx bfar=0x%08lx\n",
             fn_current_layer_index, fn_current_layer_name ? fn_current_layer_name : "-",
             (unsigned long)frame[6], (unsigned long)frame[5], (unsigned long)frame[7],
             (unsigned long)SCB_CFSR, (unsigned long)SCB_HFSR, (unsigned long)SCB_MMFAR,
             (unsigned long)SCB_BFAR);
    fn_print("*** r0=0x%08lx r1=0x%08lx r2=0x%08lx r3=0x%08lx r12=0x%08lx\n",
             (unsigned long)frame[0], (unsigned long)frame[1], (unsigned long)frame[2],
             (unsigned long)frame[3], (unsigned long)frame[4]);
    fn_board_exit(FN_EXIT_HARDFAULT);
}

/* Picks the stack the fault was taken on (EXC_RETURN bit 2) and hands its frame to C. */
__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile("tst lr, #4\n\t"
                   "ite eq\n\t"
                   "mrseq r0, msp\n\t"
                   "mrsne r0, psp\n\t"
                   "b fn_hardfault_report\n\t");
}

void Default_Handler(void)
{
    uint32_t ipsr;
    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    fn_print("*** unexpected exception %lu layer=%d name=%s\n", (unsigned long)ipsr,
             fn_current_layer_index, fn_current_layer_name ? fn_current_layer_name : "-");
    fn_board_exit(FN_EXIT_UNEXPECTED_EXCEPTION);
}

/* 16 system exceptions plus the STM32F4/F7 interrupt lines (no interrupt is enabled, so
 * every line goes to Default_Handler, which reports it instead of running off the table). */
#define FN_IRQ_LINES 112

typedef void (*fn_vector_t)(void);

__attribute__((section(".isr_vector"), used)) const fn_vector_t fn_vector_table[16 + FN_IRQ_LINES] = {
    [0] = (fn_vector_t)(uintptr_t)&_estack,
    [1] = Reset_Handler,
    [2] = Default_Handler,   /* NMI */
    [3] = HardFault_Handler,
    [4] = Default_Handler,   /* MemManage */
    [5] = Default_Handler,   /* BusFault */
    [6] = Default_Handler,   /* UsageFault */
    [11] = Default_Handler,  /* SVCall */
    [12] = Default_Handler,  /* DebugMon */
    [14] = Default_Handler,  /* PendSV */
    [15] = Default_Handler,  /* SysTick */
    [16 ... 16 + FN_IRQ_LINES - 1] = Default_Handler,
};
