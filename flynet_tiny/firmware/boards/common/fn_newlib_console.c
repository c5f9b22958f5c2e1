/* Real-board builds only: newlib's write hook, so that printf (and puts, putchar) reach
 * the board console too. Emulation builds get theirs from librdimon (semihosting). */
#include "fn_board.h"

int _write(int fd, const char *data, int length);

int _write(int fd, const char *data, int length)
{
    (void)fd; /* stdout and stderr both go to the console */
    if (length > 0)
        fn_board_write(data, (size_t)length);
    return length;
}
