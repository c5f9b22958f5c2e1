"""The plugin's pipeline timing model on hand-written Thumb-2 loops, against the cycle counts
the Cortex-M4 TRM (Arm DDI 0439, 3.3) and published Cortex-M7 measurements state.

Each loop runs N times between the layer markers; the cycles of one iteration are the
difference between N = 20 and N = 10, so entry, exit and the cold caches cancel out. Every
loop ends in `subs r4, r4, #1; bne 1b`.
"""

import dataclasses
import subprocess
from pathlib import Path

import pytest

from flynet_tiny.build.make import build_firmware
from flynet_tiny.sim.qemu import find_qemu, parse_plugin_counts, plugin_argument, qemu_command, run_qemu
from flynet_tiny.sim.symbols import read_symbols
from flynet_tiny.sim.timing import board_timing
from flynet_tiny.targets import load_target
from sim_asm import count_loop_source

PROGRAMS = Path(__file__).parent / "sim_programs"

# r1, r2, r3 point at the stack (SRAM on the F446RE, DTCM on the F746ZG: no wait states), r5 = 0,
# r6 points at itself, r4 counts down.
LOOP = count_loop_source("""    .balign 16
count_loop:
    push {{r4-r7, lr}}
    sub sp, sp, #32
    mov r4, r0
    mov r1, sp
    mov r2, sp
    mov r3, sp
    movs r5, #0
    mov r6, sp
    str r6, [sp]
    bl fn_marker_layer_begin
{before}
    .balign 4
1:
{body}
    subs r4, r4, #1
    bne 1b
    bl fn_marker_layer_end
    add sp, sp, #32
    pop {{r4-r7, pc}}
{after}
""")

# Cortex-M4 TRM (DDI 0439) table 3-1: data processing 1, SUBS 1, a taken branch 1 + P with the
# refill P = 1..3; the model takes P = 2.
M4_REFILL = 2
M4_LOOP_TAIL = 1 + (1 + M4_REFILL)  # subs + taken bne


def loop_program(tmp_path, name, body, before="", after=""):
    source = tmp_path / f"{name}.S"
    source.write_text(LOOP.format(body="\n".join(f"    {line}" for line in body), before=before, after=after))
    return source


def segment_cycles(tmp_path, target_name, source, n, timing=None):
    target = load_target(target_name)
    build = build_firmware(tmp_path / f"{source.stem}-{target_name}-{n}", target, [PROGRAMS / "count_main.c", source],
                           defines=[f"LOOP_N={n}"], emulation=True)
    result = run_qemu(build.elf, target, timeout_s=30, timing=timing or board_timing(target))
    assert result.ok, result.stdout + result.stderr
    return result.layers[0].model_cycles


def ten_iterations(tmp_path, target_name, body):
    """Cycles of ten more iterations of the loop."""
    source = loop_program(tmp_path, "loop", body)
    ten, twenty = (segment_cycles(tmp_path, target_name, source, n) for n in (10, 20))
    return twenty.cycles - ten.cycles


# (body, cycles of the body per the TRM)
M4_CASES = {
    "alu": (["adds r0, r0, #1", "adds r0, r0, #1"], 2),
    # 3.3.2: "LDR R0,[R1]; LDR R1,[R2]: normally three cycles total"
    "back_to_back_loads": (["ldr r0, [r1]", "ldr r7, [r2]"], 3),
    # "LDR R0,[R1,R5]; LDR R1,[R2]; LDR R2,[R3,#4]: normally four cycles total"
    "three_loads": (["ldr r0, [r1, r5]", "ldr r7, [r2]", "ldr r0, [r3, #4]"], 4),
    # "LDR R0,[R1,R2]; STR R0,[R3,#20]: normally three cycles total"
    "load_then_store": (["ldr r0, [r1, r5]", "str r0, [r3, #20]"], 3),
    # a load result used by the next data-processing instruction: no extra cycle
    "load_use_alu": (["ldr r0, [r1]", "adds r7, r0, #1"], 3),
    # "Any load or store that generates an address dependent on the result of a preceding data
    # processing operation stalls the pipeline for an additional cycle"
    "alu_result_as_address": (["adds r1, r1, #0", "ldr r0, [r1]"], 1 + 2 + 1),
    # LDM / STM / PUSH / POP: 1 + N
    "ldm_four": (["ldmia r1, {r0, r5, r6, r7}"], 1 + 4),
    "push_pop_three": (["push {r0, r5, r7}", "pop {r0, r5, r7}"], 2 * (1 + 3)),
    # MUL, MLA, SMLAD, SMULL: 1
    "multiplies": (["mul r0, r7, r7", "smlad r0, r7, r7, r0", "smull r0, r7, r7, r7"], 3),
    # a conditional branch not taken: 1
    "branch_not_taken": (["cmp r4, #0", "beq 2f", "nop", "2:"], 1 + 1 + 1),
    # taken: 1 + P (the nop is skipped)
    "branch_taken": (["cmp r4, r4", "beq 2f", "nop", "2:"], 1 + 1 + M4_REFILL),
}


@pytest.mark.parametrize("case", sorted(M4_CASES))
def test_cortex_m4_loop_takes_the_trm_cycles(tmp_path, case):
    body, trm_cycles = M4_CASES[case]
    assert ten_iterations(tmp_path, "f446re", body) == 10 * (trm_cycles + M4_LOOP_TAIL)


def test_cortex_m4_taken_branch_refill_is_inside_the_trm_range(tmp_path):
    taken = ten_iterations(tmp_path, "f446re", M4_CASES["branch_taken"][0]) // 10
    not_taken = ten_iterations(tmp_path, "f446re", M4_CASES["branch_not_taken"][0]) // 10
    refill = taken - not_taken + 1  # taken skips the 1-cycle nop
    assert 1 <= refill <= 3 and refill == M4_REFILL


def test_cortex_m4_divide_is_inside_the_trm_range(tmp_path):
    cycles = ten_iterations(tmp_path, "f446re", ["movs r0, #100", "movs r7, #7", "udiv r0, r0, r7"]) // 10
    divide = cycles - 2 - M4_LOOP_TAIL
    assert 2 <= divide <= 12 and divide == 7  # TRM: 2..12 with the operands; the model takes 7


# Cortex-M7: Arm publishes no cycle table; the pairing and latency rules are those of Arm's LLVM
# scheduling model (ARMScheduleM7.td: two ALUs, one shifter, two load pipes, one MAC; loads ready
# for an ALU a cycle later, addresses read a cycle early) and of published measurements
# (quinapalus.com "Cortex-M7 instruction cycle counts"). Loop tail: subs pairs with the last body
# instruction or the bne; the predicted taken bne ends the issue group.
M7_CASES = {
    # two independent ALU instructions issue together: 4 in 2 cycles, then subs + bne in 1
    "independent_alu_pairs": (["adds r0, r0, #1", "adds r1, r1, #1", "adds r2, r2, #1", "adds r3, r3, #1"], 3),
    # a dependent chain cannot pair: 4 cycles, subs pairs with the last add, bne alone
    "dependent_alu_chain": (["adds r0, r0, #1", "adds r0, r0, #1", "adds r0, r0, #1", "adds r0, r0, #1"], 5),
    # one shifter: two shifted-operand instructions do not pair
    "shifted_operands": (["add r0, r0, r7, lsl #2", "add r1, r1, r7, lsl #2"], 3),
    # two load pipes: independent loads pair
    "load_pair": (["ldr r0, [r1]", "ldr r7, [r2]"], 2),
    # a load result feeds an ALU instruction in the next cycle
    "load_use_alu": (["ldr r0, [r1]", "adds r7, r0, #1"], 3),
    # a load result used as an address waits one cycle more
    "load_use_address": (["ldr r6, [r6]", "ldr r0, [r6]"], 4),
    # one MAC unit: two multiplies do not pair
    "two_multiplies": (["mul r0, r7, r7", "mul r1, r7, r7"], 3),
}


@pytest.mark.parametrize("case", sorted(M7_CASES))
def test_cortex_m7_dual_issue_and_latencies(tmp_path, case):
    body, cycles = M7_CASES[case]
    assert ten_iterations(tmp_path, "f746zg", body) == 10 * cycles


def test_cortex_m7_dual_issue_halves_independent_alu_work(tmp_path):
    pairs = ten_iterations(tmp_path, "f746zg", M7_CASES["independent_alu_pairs"][0])
    chain = ten_iterations(tmp_path, "f746zg", M7_CASES["dependent_alu_chain"][0])
    assert chain - pairs == 10 * 2  # 4 ALU instructions: 4 cycles in a chain, 2 when they pair


def test_cortex_m7_predictor_learns_a_loop_and_misses_an_alternating_branch(tmp_path):
    # Never taken: tst + bne pair, nop + subs pair, the predicted bne alone: 3 cycles.
    steady = ten_iterations(tmp_path, "f746zg", ["tst r4, #0", "bne 2f", "nop", "2:"])
    assert steady == 10 * 3
    # Taken every other iteration: a taken turn skips the nop (tst + bne, subs + bne: 2 cycles),
    # and the 2-bit counter, swinging between weakly taken and weakly not taken, mispredicts
    # every turn at 6 cycles (Arm's LLVM model: "mispredict cost for forward branches is 6").
    alternating = ten_iterations(tmp_path, "f746zg", ["tst r4, #1", "bne 2f", "nop", "2:"])
    assert alternating == 5 * 2 + 5 * 3 + 10 * 6


def flash_loop(tmp_path, name):
    """A loop in its own flash line, reached by a branch from far away, that loads a constant from
    flash: the first iteration misses both caches, the others hit."""
    body = ["ldr r7, [r0]", "nop", "nop"]
    before = ("    movw r0, #:lower16:fn_flash_word\n    movt r0, #:upper16:fn_flash_word\n    b 1f\n"
              "    .balign 64\n    .space 64")
    after = "    .section .rodata\n    .balign 64\nfn_flash_word:\n    .word 7\n    .space 60"
    return loop_program(tmp_path, name, body, before=before, after=after)


def zero_wait(timing):
    return dataclasses.replace(timing, regions=tuple(dataclasses.replace(r, miss_cycles=0) for r in timing.regions))


@pytest.mark.parametrize("target_name", ["f446re", "f746zg"])
def test_flash_loop_misses_once_then_hits(tmp_path, target_name):
    # Without the sequential prefetch, so that no prefetch read is in flight when the branch
    # to the loop's line misses.
    timing = dataclasses.replace(board_timing(load_target(target_name)), prefetch=False)
    flash = timing.region(load_target(target_name).placement["code"])
    source = flash_loop(tmp_path, f"flash_{target_name}")
    slow = {n: segment_cycles(tmp_path, target_name, source, n, timing) for n in (1, 2, 3)}
    fast = {n: segment_cycles(tmp_path, target_name, source, n, zero_wait(timing)) for n in (1, 2, 3)}
    # only the first pass misses: one instruction line and one data line of flash
    assert {slow[n].fetch - fast[n].fetch for n in slow} == {flash.miss_cycles}
    assert {slow[n].memory - fast[n].memory for n in slow} == {flash.miss_cycles}
    assert {slow[n].cycles - fast[n].cycles for n in slow} == {2 * flash.miss_cycles}
    # warm iterations cost the same with and without wait states
    assert slow[3].cycles - slow[2].cycles == fast[3].cycles - fast[2].cycles


def test_f446re_flash_miss_costs_its_wait_states():
    # RM0390 table 5: 5 wait states at 180 MHz; an ART hit has none
    target = load_target("f446re")
    assert board_timing(target).region("FLASH").miss_cycles == target.flash_wait_states == 5


def test_counts_are_the_same_with_the_timing_model(tmp_path):
    source = loop_program(tmp_path, "counts", M4_CASES["multiplies"][0] + M4_CASES["ldm_four"][0])
    target = load_target("f446re")
    build = build_firmware(tmp_path / "counts-fw", target, [PROGRAMS / "count_main.c", source],
                           defines=["LOOP_N=50"], emulation=True)
    plain = run_qemu(build.elf, target, timeout_s=30)
    timed = run_qemu(build.elf, target, timeout_s=30, timing=board_timing(target))
    assert plain.layers[0].model_cycles is None and timed.layers[0].model_cycles is not None
    assert (plain.total_instructions, plain.total_classes) == (timed.total_instructions, timed.total_classes)
    assert [(l.instructions, l.classes) for l in plain.layers] == [(l.instructions, l.classes) for l in timed.layers]


def test_excluded_code_is_neither_counted_nor_timed(tmp_path):
    """Another firmware's instrumentation ([xlo, xhi), as the TFLM runner's markers): the
    marker functions' own `bx lr` drops out of the layer's count and cycles."""
    target = load_target("f446re")
    source = loop_program(tmp_path, "excluded", ["adds r0, r0, #1"])
    build = build_firmware(tmp_path / "excluded-fw", target, [PROGRAMS / "count_main.c", source],
                           defines=["LOOP_N=10"], emulation=True)
    symbols = read_symbols(build.elf)
    markers = (symbols["fn_marker_layer_begin"], symbols["fn_marker_layer_end"])
    counted = {}
    for name, exclude in (("all", None), ("markers out", (min(markers) & ~1, (max(markers) & ~1) + 2))):
        counts = tmp_path / f"{name.replace(' ', '_')}.txt"
        subprocess.run(qemu_command(find_qemu(), build.elf, target,
                                    plugin_argument(counts, markers, exclude, board_timing(target))),
                       capture_output=True, timeout=30, check=True)
        parsed = parse_plugin_counts(counts.read_text())
        counted[name] = (parsed.segments[0][0], parsed.segment_cycles[0].cycles)
    assert counted["markers out"][0] == counted["all"][0] - 1
    assert counted["markers out"][1] < counted["all"][1]
