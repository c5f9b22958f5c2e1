"""README.md of a build folder: how to build it, flash it, what sits where in memory, the UART, and how
to read the per-layer DWT cycles; for a library, how to add it to an STM32CubeIDE project."""

from __future__ import annotations

from ..targets import Target
from .cmake import CMAKE_BUILD_DIR, TOOLCHAIN_FILE
from .linker_script import memory_regions
from .options import ARTIFACT_NAME, LIBRARY_NAME
from .plan import BuildPlan

APT_PACKAGES = "gcc-arm-none-eabi libnewlib-arm-none-eabi make cmake"
# What the linker script puts where (target.placement roles), with the sections it names.
ROLE_SECTIONS = {
    "code": "code and read-only data (`.isr_vector`, `.text`, `.rodata`)",
    "weights": "the model's weights, biases and requantization tables (`.fn_weights`)",
    "data": "initialised and zeroed data, heap (`.data`, `.bss`, `.heap`)",
    "arena": "the model's activation arena (`.fn_arena`)",
    "stack": "the stack (`.stack`, top of the region)",
}


def _title(target: Target) -> str:
    return f"{target.board} ({target.mcu}, {target.core}, {target.clock_hz // 1_000_000} MHz)"


def _build_section(products: str, cmake_into_folder: bool = False) -> list[str]:
    return [
        "## Build", "",
        f"Only the Arm cross compiler is needed (Debian: `apt-get install {APT_PACKAGES}`). Every path in this "
        "folder is relative: copy it anywhere.", "",
        "```sh",
        f"make                                   # {products}",
        f"cmake -S . -B {CMAKE_BUILD_DIR} -DCMAKE_TOOLCHAIN_FILE={TOOLCHAIN_FILE} && cmake --build {CMAKE_BUILD_DIR}",
        "```", "",
        (f"Both write `{products}` into this folder" if cmake_into_folder else
         f"`make` writes into this folder; CMake into `{CMAKE_BUILD_DIR}/`")
        + ". Both use the same sources and flags (`Makefile`, `CMakeLists.txt`).", "",
    ]


def _memory_map(plan: BuildPlan) -> list[str]:
    target = plan.target
    roles: dict[str, list[str]] = {}
    for role, region in target.placement.items():
        if role in ROLE_SECTIONS:
            roles.setdefault(region, []).append(ROLE_SECTIONS[role])
    rows = [f"| {r.name} | 0x{r.origin:08X} | {r.length:,} B | {'; '.join(roles.get(r.name, [])) or 'unused'} |"
            for r in memory_regions(target, plan.options.emulation)]
    return ["## Memory map", "", f"From `{ARTIFACT_NAME}.ld` (generated from the board file `{target.source.name}`); "
            f"the linker's use per region is in `{ARTIFACT_NAME}.map` and printed by every build.", "",
            "| region | origin | size | holds |", "|---|---|---|---|", *rows, ""]


def _cycles_section(plan: BuildPlan, emulation: bool) -> list[str]:
    clock = plan.target.clock_hz
    bench = any(source.endswith("fn_bench_main.c") for source in plan.sources)
    source = ("QEMU has no cycle counter: `flynet-tiny emulate` counts executed instructions per layer instead"
              if emulation else f"`cycles` is the DWT cycle counter (CYCCNT) difference across the layer, at "
              f"{clock:,} Hz: milliseconds = cycles / {clock // 1000:,}")
    return [
        "## Per-layer cycles", "",
        ("The benchmark main (`runtime/fn_bench_main.c`) runs the model on the test inputs embedded in flash "
         "(`bench/fn_bench_config.h`). " if bench else "")
        + "Around every layer (`fn_layer_begin` / `fn_layer_end`) the runtime prints one line before and one "
        "after; `fn_emit_output` prints an output as hex:", "",
        "```",
        "@layer-begin 3 CONV_2D",
        "@layer-end 3 cycles=48211",
        "@output 0 f3807f...",
        "```", "",
        f"{source}. Sum the `@layer-end` values of one input for a whole inference, e.g. from a saved log:", "",
        "```sh",
        "awk -F'cycles=' '/^@layer-end/ {sum += $2} END {print sum}' uart.log   # all inputs together",
        "```", "",
    ]


def _board_readme(plan: BuildPlan) -> list[str]:
    target = plan.target
    code = target.region(target.placement["code"])
    family = target.mcu[5:7].lower()  # STM32F4xx -> f4: OpenOCD's board/st_nucleo_f4.cfg
    uart = target.uart
    return [
        *_build_section(f"{ARTIFACT_NAME}.elf, .bin, .hex, .map"),
        "## Flash", "",
        "Over the board's ST-LINK (USB), with any of:", "",
        "```sh",
        f"st-flash --reset write {ARTIFACT_NAME}.bin 0x{code.origin:08X}                      # stlink-tools",
        f"openocd -f board/st_nucleo_{family}.cfg -c \"program {ARTIFACT_NAME}.elf verify reset exit\"",
        f"STM32_Programmer_CLI -c port=SWD -w {ARTIFACT_NAME}.hex -v -rst                # STM32CubeProgrammer",
        "```", "",
        f"(From the CMake build, the files are in `{CMAKE_BUILD_DIR}/`.) This firmware has run in QEMU only, not yet "
        "on a board.", "",
        *_memory_map(plan),
        "## UART", "",
        f"{uart['instance']}, TX {uart['tx']} / RX {uart['rx']}: the ST-LINK virtual COM port. "
        f"{int(uart['baud']):,} baud, 8 data bits, no parity, 1 stop bit (8N1), no flow control.", "",
        "```sh",
        f"picocom -b {int(uart['baud'])} /dev/ttyACM0 | tee uart.log      # then press the board's reset button",
        "```", "",
        *_cycles_section(plan, emulation=False),
    ]


def _emulation_readme(plan: BuildPlan) -> list[str]:
    target = plan.target
    machine = target.emulator["qemu_machine"]
    return [
        f"This is an **emulation build**: linked for QEMU's `{machine}` machine, not for the board. Run it with",
        "", "```sh", f"flynet-tiny emulate {ARTIFACT_NAME}.elf --target {target.name}", "```", "",
        f"For the board, build without `--emulation`: `flynet-tiny build --target {target.name} --model EXPORT`.", "",
        *_build_section(f"{ARTIFACT_NAME}.elf, .bin, .hex, .map"),
        *_memory_map(plan),
        "## Console", "",
        "Output goes through Arm semihosting (newlib's rdimon): QEMU prints it on its standard output.", "",
        *_cycles_section(plan, emulation=True),
    ]


def _library_readme(plan: BuildPlan) -> list[str]:
    target = plan.target
    arena, weights = target.placement["arena"], target.placement["weights"]
    cpu = " ".join(target.arch_flags)
    return [
        f"`{LIBRARY_NAME}`: the generated model and the int8 kernels, compiled for {target.core} (`{cpu}`), with no "
        "startup, board or console code: for an existing STM32Cube project. The API is `model/model.h`.", "",
        *_build_section(LIBRARY_NAME, cmake_into_folder=True),
        "## Add it to an STM32CubeIDE project", "",
        "1. Copy this folder into the project, e.g. as `flynet/`.",
        "2. **Include path**: Project > Properties > C/C++ Build > Settings > MCU GCC Compiler > Include paths: "
        "add `../flynet/model` (`model.h` needs nothing else).",
        f"3. **Library**: MCU GCC Linker > Libraries: add `flynet` under Libraries (-l) and `../flynet` under "
        f"Library search path (-L). The project's floating-point settings must match the library's: `{cpu}`.",
        "4. **Linker placement**: in the project's linker script (`*_FLASH.ld`), inside `SECTIONS`, put the "
        "weights in flash and the arena in RAM (without these lines ld places them by itself, the weights "
        "possibly in RAM):", "",
        "```ld",
        "  .fn_weights : ALIGN(16) { KEEP(*(.fn_weights .fn_weights.*)) } >FLASH",
        "  .fn_arena (NOLOAD) : ALIGN(16) { *(.fn_arena .fn_arena.*) } >RAM",
        "```", "",
        f"   The arena takes `FLYNET_ARENA_BYTES` (in `model.h`); on the board's own link it sits in {arena} and "
        f"the weights in {weights}.",
        "5. **Call it**:", "",
        "```c",
        '#include "model.h"',
        "",
        "/* One buffer per model input and output; model.h gives each one's type, shape, bytes and",
        " * quantization (FLYNET_INPUT0_BYTES, FLYNET_OUTPUT0_BYTES, ...). */",
        "static FLYNET_INPUT0_TYPE input0[FLYNET_INPUT0_BYTES / sizeof(FLYNET_INPUT0_TYPE)];",
        "static FLYNET_OUTPUT0_TYPE output0[FLYNET_OUTPUT0_BYTES / sizeof(FLYNET_OUTPUT0_TYPE)];",
        "const void *const inputs[FLYNET_INPUT_COUNT] = {input0};",
        "void *const outputs[FLYNET_OUTPUT_COUNT] = {output0};",
        "",
        "if (flynet_invoke(inputs, outputs) != 0) {",
        "    /* flynet_error_layer and flynet_error_status say which layer refused and why */",
        "}",
        "```", "",
        "6. **Per-layer timing** (optional): the library's `fn_layer_begin(int index, const char *name)` and "
        "`fn_layer_end(int index)` are weak no-ops called around every layer; define them in the project (e.g. "
        "reading DWT->CYCCNT) to time each layer.", "",
    ]


def render_folder_readme(plan: BuildPlan) -> str:
    target = plan.target
    if plan.options.library:
        title, body = f"# {LIBRARY_NAME} for {_title(target)}", _library_readme(plan)
    elif plan.options.emulation:
        title, body = f"# Emulation firmware for {target.board} on QEMU {target.emulator['qemu_machine']}", \
            _emulation_readme(plan)
    else:
        title, body = f"# Firmware for {_title(target)}", _board_readme(plan)
    lines = [title, "", "Generated by flynet-tiny; regenerated by the next build into this folder.", "", *body]
    return "\n".join(lines).rstrip() + "\n"
