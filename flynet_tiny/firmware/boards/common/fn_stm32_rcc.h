/* Clock-tree and GPIO registers common to the STM32F4 and STM32F7 (RM0390 section 6,
 * RM0385 section 5: same RCC / PWR / FLASH_ACR / GPIO layout). Clock values come from
 * the target TOML as -D defines: FN_CLOCK_HZ, FN_HSE_HZ, FN_FLASH_WAIT_STATES, FN_UART_BAUD. */
#ifndef FN_STM32_RCC_H
#define FN_STM32_RCC_H

#include <stdint.h>

#include "fn_cortexm.h"

#if !defined(FN_CLOCK_HZ) || !defined(FN_HSE_HZ) || !defined(FN_FLASH_WAIT_STATES) || !defined(FN_UART_BAUD)
#error "board build needs FN_CLOCK_HZ, FN_HSE_HZ, FN_FLASH_WAIT_STATES and FN_UART_BAUD from the target file"
#endif

#define RCC_BASE 0x40023800u
#define RCC_CR FN_REG32(RCC_BASE + 0x00u)
#define RCC_PLLCFGR FN_REG32(RCC_BASE + 0x04u)
#define RCC_CFGR FN_REG32(RCC_BASE + 0x08u)
#define RCC_AHB1ENR FN_REG32(RCC_BASE + 0x30u)
#define RCC_APB1ENR FN_REG32(RCC_BASE + 0x40u)
#define PWR_CR FN_REG32(0x40007000u)
#define PWR_CSR FN_REG32(0x40007004u)
#define FLASH_ACR FN_REG32(0x40023C00u)

#define GPIO_MODER(base) FN_REG32((base) + 0x00u)
#define GPIO_OSPEEDR(base) FN_REG32((base) + 0x08u)
#define GPIO_AFR(base, pin) FN_REG32((base) + 0x20u + 4u * ((pin) / 8u))

/* PLL input at 2 MHz (inside the 1-2 MHz window), VCO at twice the core clock, P = 2. */
#define FN_PLL_M (FN_HSE_HZ / 2000000u)
#define FN_PLL_N ((2u * FN_CLOCK_HZ) / 2000000u)
#define FN_PLL_Q 9u /* 48 MHz domain unused; any legal value */
/* APB1 at core / 4 (45 MHz on the F446, 54 MHz on the F746: each part's maximum), APB2 at / 2. */
#define FN_APB1_HZ (FN_CLOCK_HZ / 4u)

/* HSE bypass (ST-LINK MCO) -> PLL -> SYSCLK at FN_CLOCK_HZ with over-drive, voltage scale 1
 * and the flash wait states for that clock. */
static inline void fn_stm32_clock_setup(void)
{
    RCC_CR |= (1u << 18) | (1u << 16); /* HSEBYP, HSEON */
    while (!(RCC_CR & (1u << 17))) {   /* HSERDY */
    }
    RCC_APB1ENR |= 1u << 28; /* PWREN */
    (void)RCC_APB1ENR;
    PWR_CR |= 3u << 14; /* VOS: scale 1 */

    RCC_PLLCFGR = FN_PLL_M | (FN_PLL_N << 6) | (0u << 16) /* P = 2 */ | (1u << 22) /* HSE */ |
                  (FN_PLL_Q << 24) | (2u << 28) /* R = 2 */;
    RCC_CR |= 1u << 24; /* PLLON */
    while (!(RCC_CR & (1u << 25))) { /* PLLRDY */
    }

    /* Over-drive is required above 168 MHz (F446) / 180 MHz (F746). */
    PWR_CR |= 1u << 16; /* ODEN */
    while (!(PWR_CSR & (1u << 16))) { /* ODRDY */
    }
    PWR_CR |= 1u << 17; /* ODSWEN */
    while (!(PWR_CSR & (1u << 17))) { /* ODSWRDY */
    }

    FLASH_ACR = (FLASH_ACR & ~0xFu) | FN_FLASH_WAIT_STATES | FN_FLASH_ACCEL_BITS;
    while ((FLASH_ACR & 0xFu) != FN_FLASH_WAIT_STATES) {
    }

    RCC_CFGR = (RCC_CFGR & ~0xFCF3u) | (0u << 4) /* AHB / 1 */ | (5u << 10) /* APB1 / 4 */ |
               (4u << 13) /* APB2 / 2 */ | 2u /* SW = PLL */;
    while (((RCC_CFGR >> 2) & 3u) != 2u) { /* SWS = PLL */
    }
}

/* Pin to alternate function `af`, high speed. */
static inline void fn_stm32_pin_af(uint32_t gpio_base, uint32_t pin, uint32_t af)
{
    GPIO_MODER(gpio_base) = (GPIO_MODER(gpio_base) & ~(3u << (2u * pin))) | (2u << (2u * pin));
    GPIO_OSPEEDR(gpio_base) |= 3u << (2u * pin);
    uint32_t shift = 4u * (pin % 8u);
    GPIO_AFR(gpio_base, pin) = (GPIO_AFR(gpio_base, pin) & ~(0xFu << shift)) | (af << shift);
}

#endif
