/* Cortex-M system registers (ARMv7-M architecture, the same on M4 and M7). */
#ifndef FN_CORTEXM_H
#define FN_CORTEXM_H

#include <stdint.h>

#define FN_REG32(addr) (*(volatile uint32_t *)(addr))

#define SCB_CPACR FN_REG32(0xE000ED88u)
#define SCB_CCR FN_REG32(0xE000ED14u)
#define SCB_CFSR FN_REG32(0xE000ED28u)
#define SCB_HFSR FN_REG32(0xE000ED2Cu)
#define SCB_MMFAR FN_REG32(0xE000ED34u)
#define SCB_BFAR FN_REG32(0xE000ED38u)
#define SCB_CCSIDR FN_REG32(0xE000ED80u)
#define SCB_CSSELR FN_REG32(0xE000ED84u)
#define SCB_ICIALLU FN_REG32(0xE000EF50u)
#define SCB_DCISW FN_REG32(0xE000EF60u)
#define DEMCR FN_REG32(0xE000EDFCu)
#define DWT_CTRL FN_REG32(0xE0001000u)
#define DWT_CYCCNT FN_REG32(0xE0001004u)
#define DWT_LAR FN_REG32(0xE0001FB0u)

static inline void fn_dsb_isb(void)
{
    __asm volatile("dsb 0xF\n\tisb 0xF" ::: "memory");
}

/* DWT cycle counter for real-board timing (the M7 needs its lock access key first). */
static inline void fn_dwt_enable(void)
{
    DEMCR |= 1u << 24; /* TRCENA */
    DWT_LAR = 0xC5ACCE55u;
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u; /* CYCCNTENA */
}

#endif
