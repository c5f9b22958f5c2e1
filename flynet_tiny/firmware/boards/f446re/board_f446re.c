/* NUCLEO-F446RE: 180 MHz from the 8 MHz ST-LINK clock, ART accelerator (prefetch and
 * flash instruction / data caches), USART2 on PA2 / PA3 (the ST-LINK virtual COM port),
 * DWT cycle counter. Register map: RM0390. */
#include "fn_board.h"
#include "fn_runtime.h"

/* FLASH_ACR: PRFTEN, ICEN, DCEN (the F4 ART accelerator). */
#define FN_FLASH_ACCEL_BITS ((1u << 8) | (1u << 9) | (1u << 10))
#include "fn_stm32_rcc.h"

#define GPIOA_BASE 0x40020000u
#define USART2_BASE 0x40004400u
#define USART_SR FN_REG32(USART2_BASE + 0x00u)
#define USART_DR FN_REG32(USART2_BASE + 0x04u)
#define USART_BRR FN_REG32(USART2_BASE + 0x08u)
#define USART_CR1 FN_REG32(USART2_BASE + 0x0Cu)

void fn_board_init(void)
{
    fn_stm32_clock_setup();
    RCC_AHB1ENR |= 1u << 0;  /* GPIOAEN */
    RCC_APB1ENR |= 1u << 17; /* USART2EN */
    (void)RCC_APB1ENR;
    fn_stm32_pin_af(GPIOA_BASE, 2, 7); /* TX */
    fn_stm32_pin_af(GPIOA_BASE, 3, 7); /* RX */
    USART_BRR = (FN_APB1_HZ + FN_UART_BAUD / 2u) / FN_UART_BAUD; /* 16x oversampling */
    USART_CR1 = (1u << 13) | (1u << 3) | (1u << 2);                 /* UE, TE, RE */
    fn_dwt_enable();
}

void fn_board_write(const char *text, size_t n)
{
    for (size_t i = 0; i < n; ++i) {
        if (text[i] == '\n') {
            while (!(USART_SR & (1u << 7))) { /* TXE */
            }
            USART_DR = '\r';
        }
        while (!(USART_SR & (1u << 7))) {
        }
        USART_DR = (uint8_t)text[i];
    }
}

uint32_t fn_board_cycles(void)
{
    return DWT_CYCCNT;
}

void fn_board_exit(int code)
{
    fn_print("@exit %d\n", code);
    while (!(USART_SR & (1u << 6))) { /* TC: last byte on the wire */
    }
    for (;;)
        __asm volatile("wfi");
}
