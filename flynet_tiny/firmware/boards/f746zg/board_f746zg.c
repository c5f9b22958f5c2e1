/* NUCLEO-F746ZG: 216 MHz from the 8 MHz ST-LINK clock with over-drive, ART accelerator
 * and prefetch on the flash, Cortex-M7 L1 I-cache and D-cache, USART3 on PD8 / PD9 (the
 * ST-LINK virtual COM port), DWT cycle counter. Register map: RM0385. */
#include "fn_board.h"
#include "fn_runtime.h"

/* FLASH_ACR: PRFTEN, ARTEN. */
#define FN_FLASH_ACCEL_BITS ((1u << 8) | (1u << 9))
#include "fn_stm32_rcc.h"

#define GPIOD_BASE 0x40020C00u
#define USART3_BASE 0x40004800u
#define USART_CR1 FN_REG32(USART3_BASE + 0x00u)
#define USART_BRR FN_REG32(USART3_BASE + 0x0Cu)
#define USART_ISR FN_REG32(USART3_BASE + 0x1Cu)
#define USART_TDR FN_REG32(USART3_BASE + 0x28u)

/* Invalidate, then enable, the L1 caches (ARMv7-M cache maintenance by set / way). */
static void fn_m7_caches_enable(void)
{
    fn_dsb_isb();
    SCB_ICIALLU = 0;
    fn_dsb_isb();
    SCB_CCR |= 1u << 17; /* IC */
    fn_dsb_isb();

    SCB_CSSELR = 0; /* level 1 data cache */
    fn_dsb_isb();
    uint32_t ccsidr = SCB_CCSIDR;
    uint32_t sets = ((ccsidr >> 13) & 0x7FFFu) + 1u;
    uint32_t ways = ((ccsidr >> 3) & 0x3FFu) + 1u;
    for (uint32_t set = 0; set < sets; ++set)
        for (uint32_t way = 0; way < ways; ++way)
            SCB_DCISW = (set << 5) | (way << 30); /* 32-byte lines, 4 ways on the M7 L1 */
    fn_dsb_isb();
    SCB_CCR |= 1u << 16; /* DC */
    fn_dsb_isb();
}

void fn_board_init(void)
{
    fn_stm32_clock_setup();
    fn_m7_caches_enable();
    RCC_AHB1ENR |= 1u << 3;  /* GPIODEN */
    RCC_APB1ENR |= 1u << 18; /* USART3EN */
    (void)RCC_APB1ENR;
    fn_stm32_pin_af(GPIOD_BASE, 8, 7); /* TX */
    fn_stm32_pin_af(GPIOD_BASE, 9, 7); /* RX */
    USART_BRR = (FN_APB1_HZ + FN_UART_BAUD / 2u) / FN_UART_BAUD; /* 16x oversampling */
    USART_CR1 = (1u << 3) | (1u << 2) | (1u << 0);                  /* TE, RE, UE */
    fn_dwt_enable();
}

void fn_board_write(const char *text, size_t n)
{
    for (size_t i = 0; i < n; ++i) {
        if (text[i] == '\n') {
            while (!(USART_ISR & (1u << 7))) { /* TXE */
            }
            USART_TDR = '\r';
        }
        while (!(USART_ISR & (1u << 7))) {
        }
        USART_TDR = (uint8_t)text[i];
    }
}

uint32_t fn_board_cycles(void)
{
    return DWT_CYCCNT;
}

void fn_board_exit(int code)
{
    fn_print("@exit %d\n", code);
    while (!(USART_ISR & (1u << 6))) { /* TC: last byte on the wire */
    }
    for (;;)
        __asm volatile("wfi");
}
