/* Emulation board (QEMU netduinoplus2 for the F446RE build, mps2-an500 for the F746ZG
 * build). Output and exit go through Arm semihosting (newlib rdimon). There is no clock
 * tree to set up: QEMU runs the core at a fixed virtual rate (`-icount shift=0` gives one
 * instruction per virtual ns), so PLL and flash wait-state code would only touch
 * peripherals the emulated SoCs model differently from the real board. Timing comes from
 * the instruction-counting plugin instead of DWT, which reads 0 under QEMU. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fn_board.h"

extern void initialise_monitor_handles(void);

void fn_board_init(void)
{
    initialise_monitor_handles(); /* without it semihosted output is dropped */
    setvbuf(stdout, NULL, _IONBF, 0); /* keep printf and fn_print output in order */
}

void fn_board_write(const char *text, size_t n)
{
    (void)write(1, text, n);
}

uint32_t fn_board_cycles(void)
{
    return 0;
}

void fn_board_exit(int code)
{
    exit(code);
}
