/* Board interface: what the runtime and startup code need from a board.
 * Each board directory (f446re, f746zg, qemu) implements these once. */
#ifndef FN_BOARD_H
#define FN_BOARD_H

#include <stddef.h>
#include <stdint.h>

/* Exit codes the host side understands (a firmware's main returns 0 on success). */
#define FN_EXIT_HARDFAULT 70
#define FN_EXIT_UNEXPECTED_EXCEPTION 71

/* Clocks, output, cycle counter. Called by Reset_Handler before .data is used by main. */
void fn_board_init(void);
/* Blocking write of n bytes to the board's console (UART or semihosting). */
void fn_board_write(const char *text, size_t n);
/* Free-running core cycle counter (DWT CYCCNT); reads 0 under QEMU. */
uint32_t fn_board_cycles(void);
/* Ends the program: QEMU exits with `code`, a real board parks the core. */
void fn_board_exit(int code) __attribute__((noreturn));

#endif
