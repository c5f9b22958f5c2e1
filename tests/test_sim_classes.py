"""The counting plugin's Thumb-2 decoder: one straight-line run of known instructions."""

from pathlib import Path

from flynet_tiny.build.make import build_firmware
from flynet_tiny.sim.qemu import run_qemu
from flynet_tiny.targets import load_target
from sim_asm import count_loop_source

PROGRAMS = Path(__file__).parent / "sim_programs"

# Each line executes exactly once inside the counted segment.
STRAIGHT_LINE = {
    "load_store": ["ldr r0, [sp]", "strb r0, [sp, #4]", "ldrd r6, r7, [sp]", "push {r4}", "pop {r4}",
                   "vldr s1, [sp]", "vpush {s16}", "vpop {s16}", "ldr.w r0, [sp, #8]", "ldmia sp, {r0, r6}",
                   "strh.w r0, [sp, #2]"],
    "mul_dsp": ["mul r0, r1, r2", "muls r0, r1, r0", "mla r0, r1, r2, r3", "smull r0, r6, r2, r3",
                "smlal r0, r6, r2, r3", "smlabb r0, r1, r2, r3", "smlad r0, r1, r2, r3", "usad8 r0, r1, r2",
                "sadd16 r0, r1, r2", "uqadd8 r0, r1, r2", "qadd r0, r1, r2"],
    "divide": ["udiv r0, r1, r2", "sdiv r0, r1, r2"],
    "fpu": ["vadd.f32 s0, s1, s2", "vmul.f32 s0, s1, s2", "vmla.f32 s0, s1, s2", "vmov s0, r0", "vmov r0, s0",
            "vcvt.f32.s32 s0, s0", "vmrs r0, fpscr", "vmov.f32 s3, #1.0"],
    "alu": ["movs r0, #1", "movw r0, #0x1234", "movt r0, #0x5678", "add.w r0, r1, r2, lsl #2", "lsls r0, r1, #3",
            "ubfx r0, r1, #4, #8", "sxtb r0, r1", "ssat r0, #8, r1", "clz r0, r1", "rev r0, r1",
            "bfi r0, r1, #4, #4", "cmp r0, r1", "sel r0, r1, r2", "sxtab16 r0, r1, r2", "add r0, sp, #8",
            "mov r0, r1"],
    "other": ["nop", "dmb", "mrs r0, apsr"],
}
# Control flow, with r5 = 0: b, cbz (taken), bl, bx lr, b, tbb (first entry). Plus an IT
# block: the IT itself is `other`, its conditional move `alu`.
CONTROL_FLOW = """
    cmp r5, #0
    it eq
    moveq r0, r1
    b 2f
2:  cbz r5, 3f
    nop            @ skipped: cbz is taken (a zero-distance cbz would assemble to a nop)
3:  bl 4f
    b 5f
4:  bx lr
5:  tbb [pc, r5]
7:  .byte (6f - 7b) / 2
    .byte 0
6:
"""
CONTROL_FLOW_CLASSES = {"alu": 2, "other": 1, "branch": 6}
SEGMENT_EXTRA = {"branch": 2}  # begin marker's bx lr, bl to the end marker


def test_every_class_is_decoded(tmp_path):
    body = "\n".join(f"    {line}" for lines in STRAIGHT_LINE.values() for line in lines)
    source = tmp_path / "classes.S"
    source.write_text(count_loop_source(f"""count_loop:
    push {{r4-r7, lr}}
    sub sp, sp, #16
    movs r5, #0
    movs r1, #100
    movs r2, #7
    movs r3, #3
    bl fn_marker_layer_begin
{body}
{CONTROL_FLOW}
    bl fn_marker_layer_end
    add sp, sp, #16
    pop {{r4-r7, pc}}
"""))
    target = load_target("f446re")
    build = build_firmware(tmp_path / "fw", target, [PROGRAMS / "count_main.c", source], defines=["LOOP_N=1"],
                           emulation=True)
    result = run_qemu(build.elf, target, timeout_s=30)
    assert result.ok, result.stdout + result.stderr
    expected = {name: len(lines) + CONTROL_FLOW_CLASSES.get(name, 0) + SEGMENT_EXTRA.get(name, 0)
                for name, lines in STRAIGHT_LINE.items()}
    expected["branch"] = CONTROL_FLOW_CLASSES["branch"] + SEGMENT_EXTRA["branch"]
    assert result.layers[0].classes == expected
