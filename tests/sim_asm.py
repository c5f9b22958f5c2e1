"""Hand-written Thumb-2 programs for the QEMU tests: `count_loop`, called by sim_programs/count_main.c."""

COUNT_LOOP_HEADER = """
    .syntax unified
    .thumb
    .text
    .global count_loop
    .type count_loop, %function
    .thumb_func
"""


def count_loop_source(code: str) -> str:
    """Assembly of `count_loop(n, word)`: the header above, then `code` (which starts at the
    `count_loop:` label and returns)."""
    return COUNT_LOOP_HEADER + code
