"""Firmware build: linker script from the target data, Makefile, arm-none-eabi-gcc."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from flynet_tiny.build.linker_script import memory_regions, render_linker_script
from flynet_tiny.build.make import build_firmware, build_library
from flynet_tiny.errors import CheckFailed, FlynetError
from flynet_tiny.resources import firmware_dir
from flynet_tiny.targets import load_target

PROGRAMS = Path(__file__).parent / "sim_programs"
FP_ARCH_TAGS = {"fpv4-sp-d16": "VFPv4-D16", "fpv5-sp-d16": "FPv5/FP-D16 for ARMv8"}  # readelf -A names


def write(path, text):
    path.write_text(text)
    return path


def test_emulation_link_moves_f746zg_flash_to_the_code_memory_and_drops_itcm():
    target = load_target("f746zg")
    script = render_linker_script(target, emulation=True)
    flash = target.region("FLASH")
    assert f"FLASH (rx) : ORIGIN = 0x00000000, LENGTH = {flash.length}" in script
    assert "ITCM" not in script
    real = render_linker_script(target, emulation=False)
    assert f"FLASH (rx) : ORIGIN = 0x{flash.origin:08X}, LENGTH = {flash.length}" in real
    assert "ITCM (rwx)" in real
    # data regions keep the board's bases in emulation
    assert [(r.name, r.origin) for r in memory_regions(target, True) if r.kind == "ram"] == [
        (r.name, r.origin) for r in target.memory if r.kind == "ram" and r.name != "ITCM"
    ]


def test_sections_follow_the_target_placement():
    target = load_target("f746zg")
    script = render_linker_script(target, emulation=False)
    place = target.placement
    assert f"_estack = ORIGIN({place['stack']}) + LENGTH({place['stack']});" in script
    assert re.search(rf"\.fn_arena \(NOLOAD\).*> {place['arena']}\n", script)
    assert re.search(rf"\.fn_weights .*> {place['weights']}\n", script)
    assert f"> {place['data']} AT> {place['code']}" in script


@pytest.mark.parametrize("target_name", ["f446re", "f746zg"])
@pytest.mark.parametrize("emulation", [False, True])
def test_same_sources_build_for_board_and_emulator(tmp_path, target_name, emulation):
    target = load_target(target_name)
    result = build_firmware(tmp_path / "fw", target, [PROGRAMS / "fault_main.c"], emulation=emulation, opt="speed")
    for path in (result.elf, result.bin, result.hex, result.map):
        assert path.is_file() and path.stat().st_size > 0
    code = target.placement["code"]
    # the binary image is the code region's content, from its origin, without gaps
    assert result.region_usage[code].used == result.bin.stat().st_size
    assert result.region_usage[code].size == target.region(code).length
    assert set(result.region_usage) == {r.name for r in memory_regions(target, emulation)}


def test_board_clock_tree_reaches_the_target_clock(tmp_path):
    """The PLL settings the board code derives from the TOML give exactly clock_hz."""
    probe = write(tmp_path / "probe.c", '#include <stdio.h>\n#include "fn_stm32_rcc.h"\n'
                  'int main(void) { printf("%u %u %u", FN_PLL_M, FN_PLL_N, FN_APB1_HZ); return 0; }\n')
    for target in (load_target("f446re"), load_target("f746zg")):
        defines = [f"-DFN_CLOCK_HZ={target.clock_hz}u", f"-DFN_HSE_HZ={target.hse_hz}u",
                   f"-DFN_FLASH_WAIT_STATES={target.flash_wait_states}u", "-DFN_UART_BAUD=115200u",
                   "-DFN_FLASH_ACCEL_BITS=0u"]
        exe = tmp_path / f"probe-{target.name}"
        subprocess.run(["gcc", *defines, "-I", str(firmware_dir("boards", "common")),
                        str(probe), "-o", str(exe)], check=True)
        m, n, apb1 = map(int, subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split())
        vco_in = target.hse_hz // m
        assert 1_000_000 <= vco_in <= 2_000_000  # RM0390 / RM0385 PLL input range
        assert 100_000_000 <= vco_in * n <= 432_000_000  # VCO output range
        assert vco_in * n // 2 == target.clock_hz  # PLLP = 2
        assert apb1 <= 54_000_000 if target.core == "cortex-m7" else apb1 <= 45_000_000


def test_flash_overflow_names_region_and_excess(tmp_path):
    big = write(tmp_path / "big.c", "#include <stdint.h>\n"
                '__attribute__((section(".fn_weights"))) const volatile uint8_t weights[600 * 1024] = {1};\n'
                "int main(void) { return weights[0]; }\n")
    with pytest.raises(CheckFailed, match=r"region FLASH overflowed by \d+ bytes"):
        build_firmware(tmp_path / "fw", load_target("f446re"), [big])
    assert not (tmp_path / "fw" / "firmware.elf").exists()


def test_arena_overflow_is_exact(tmp_path):
    target = load_target("f746zg")
    arena_region = target.region(target.placement["arena"])
    excess = 1000
    src = write(tmp_path / "arena.c", "#include <stdint.h>\n"
                f'__attribute__((section(".fn_arena"))) volatile uint8_t arena[{arena_region.length + excess}];\n'
                "int main(void) { return arena[0]; }\n")
    with pytest.raises(CheckFailed, match=rf"region {arena_region.name} overflowed by {excess} bytes"):
        build_firmware(tmp_path / "fw", target, [src], emulation=True)


def test_warnings_are_errors_and_nothing_is_left_behind(tmp_path):
    out = tmp_path / "fw"
    build_firmware(out, load_target("f446re"), [PROGRAMS / "fault_main.c"])
    src = write(tmp_path / "warn.c", "int main(void) { int unused; return 0; }\n")
    with pytest.raises(FlynetError, match=r"warn\.c.*unused"):
        build_firmware(out, load_target("f446re"), [src])
    assert not any((out / f"firmware.{ext}").exists() for ext in ("elf", "bin", "hex", "map"))


def test_generated_makefile_rebuilds_by_hand(tmp_path):
    result = build_firmware(tmp_path / "fw", load_target("f446re"), [PROGRAMS / "fault_main.c"], lto=True)
    first = result.bin.read_bytes()
    subprocess.run(["make", "-C", str(result.out_dir), "clean"], check=True, capture_output=True)
    assert not result.elf.exists()
    subprocess.run(["make", "-C", str(result.out_dir)], check=True, capture_output=True)
    assert result.bin.read_bytes() == first


def test_bad_input_is_one_line(tmp_path, monkeypatch):
    target = load_target("f446re")
    with pytest.raises(FlynetError, match="unknown --opt 'fast': choose one of size, speed"):
        build_firmware(tmp_path / "a", target, [PROGRAMS / "fault_main.c"], opt="fast")
    with pytest.raises(FlynetError, match="source file .*missing.c not found"):
        build_firmware(tmp_path / "b", target, [tmp_path / "missing.c"])
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FlynetError, match="apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"):
        build_firmware(tmp_path / "c", target, [PROGRAMS / "fault_main.c"])


def test_library_only_mode_archives_just_the_sources(tmp_path):
    layer = write(tmp_path / "layer.c", '#include "fn_runtime.h"\n'
                  "int run_layer(int x) { fn_layer_begin(0, \"conv\"); x *= 3; fn_layer_end(0); return x; }\n")
    for target in (load_target("f446re"), load_target("f746zg")):
        result = build_library(tmp_path / target.name, target, [layer], opt="speed")
        members = subprocess.run(["arm-none-eabi-ar", "t", str(result.archive)], capture_output=True, text=True,
                                 check=True).stdout.split()
        assert members == ["00_layer.o"]
        symbols = subprocess.run(["arm-none-eabi-nm", str(result.archive)], capture_output=True, text=True,
                                 check=True).stdout
        assert " T run_layer" in symbols and "fn_layer_begin" not in symbols  # hooks compiled out
        attributes = subprocess.run(["arm-none-eabi-readelf", "-A", str(result.archive)], capture_output=True,
                                    text=True, check=True).stdout
        fpu = next(f.split("=")[1] for f in target.arch_flags if f.startswith("-mfpu="))
        assert f"Tag_FP_arch: {FP_ARCH_TAGS[fpu]}" in attributes and "Tag_ABI_VFP_args: VFP registers" in attributes
        assert result.text_bytes > 0 and result.data_bytes == 0 and result.bss_bytes == 0


def test_changed_flags_rebuild_and_unchanged_ones_do_not(tmp_path):
    target = load_target("f446re")
    sources = [PROGRAMS / "count_main.c", PROGRAMS / "count_loop.S"]
    first = build_firmware(tmp_path / "fw", target, sources, defines=["LOOP_N=1"], emulation=True)
    image_1 = first.bin.read_bytes()
    objects = sorted((tmp_path / "fw" / "obj").glob("*.o"))
    stamps = [o.stat().st_mtime_ns for o in objects]
    build_firmware(tmp_path / "fw", target, sources, defines=["LOOP_N=1"], emulation=True)
    assert [o.stat().st_mtime_ns for o in objects] == stamps  # nothing recompiled
    second = build_firmware(tmp_path / "fw", target, sources, defines=["LOOP_N=2"], emulation=True)
    assert second.bin.read_bytes() != image_1


def test_printf_reaches_the_board_console_on_real_boards(tmp_path):
    src = write(tmp_path / "hello.c", '#include <stdio.h>\nint main(void) { printf("hello %d\\n", 42); return 0; }\n')
    for target in (load_target("f446re"), load_target("f746zg")):
        result = build_firmware(tmp_path / target.name, target, [src])
        symbols = subprocess.run(["arm-none-eabi-nm", str(result.elf)], capture_output=True, text=True,
                                 check=True).stdout
        write_address = next(line.split()[0] for line in symbols.splitlines() if line.endswith(" _write"))
        # the map file names the object that defined _write: ours, not libnosys' stub
        map_text = result.map.read_text()
        assert re.search(rf"\.text\._write\s+0x0*{write_address.lstrip('0')}\s+0x[0-9a-f]+ obj/\d+_fn_newlib_console\.o",
                         map_text)


@pytest.mark.parametrize("target_name", ["f446re", "f746zg"])
def test_emulation_builds_place_test_inputs_past_the_board_memory(target_name):
    target = load_target(target_name)
    extra = target.emulator["test_inputs_region"]
    emulated = render_linker_script(target, emulation=True)
    assert f"TESTDATA (rx) : ORIGIN = 0x{extra['origin']:08X}, LENGTH = {extra['length']}" in emulated
    assert "*(.fn_test_inputs) } > TESTDATA" in emulated
    flash = next(r for r in memory_regions(target, True) if r.name == "FLASH")
    assert extra["origin"] >= flash.origin + flash.length  # no overlap with the board's flash
    real = render_linker_script(target, emulation=False)
    assert "TESTDATA" not in real and "*(.fn_test_inputs) } > FLASH" in real


def copy_elsewhere(folder: Path, tmp_path: Path) -> Path:
    """The build folder alone, in an empty directory away from the package and the original folder."""
    away = tmp_path / "elsewhere" / folder.name
    products = ("obj", "firmware.elf", "firmware.bin", "firmware.hex", "firmware.map", "libflynet.a", "cmake-build")
    shutil.copytree(folder, away, ignore=shutil.ignore_patterns(*products))
    return away


def test_the_build_folder_builds_anywhere_with_make_and_cmake(tmp_path):
    result = build_firmware(tmp_path / "fw", load_target("f746zg"), [PROGRAMS / "fault_main.c"], opt="speed")
    package = str(firmware_dir().parent)
    for name in ("Makefile", "CMakeLists.txt", "README.md"):
        text = (result.out_dir / name).read_text()
        assert package not in text and str(tmp_path) not in text, name  # relative paths only
    away = copy_elsewhere(result.out_dir, tmp_path)
    subprocess.run(["make", "-C", str(away)], check=True, capture_output=True)
    assert (away / "firmware.bin").read_bytes() == result.bin.read_bytes()
    subprocess.run(["cmake", "-S", str(away), "-B", str(away / "cmake-build")], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(away / "cmake-build")], check=True, capture_output=True)
    assert (away / "cmake-build" / "firmware.bin").read_bytes() == result.bin.read_bytes()


def test_the_folder_readme_says_how_to_build_flash_and_read_it(tmp_path):
    target = load_target("f446re")
    result = build_firmware(tmp_path / "fw", target, [PROGRAMS / "fault_main.c"])
    readme = (result.out_dir / "README.md").read_text()
    for command in ("make", "cmake -S . -B cmake-build -DCMAKE_TOOLCHAIN_FILE=arm-none-eabi.cmake",
                    "st-flash --reset write firmware.bin 0x08000000", "openocd -f board/st_nucleo_f4.cfg",
                    "STM32_Programmer_CLI -c port=SWD -w firmware.hex"):
        assert command in readme, command
    for region in target.memory:
        assert f"| {region.name} | 0x{region.origin:08X} | {region.length:,} B |" in readme
    assert "USART2, TX PA2 / RX PA3" in readme and "115,200 baud" in readme and "8N1" in readme
    assert "@layer-end 3 cycles=" in readme and f"cycles / {target.clock_hz // 1000:,}" in readme
    emulated = build_firmware(tmp_path / "emu", target, [PROGRAMS / "fault_main.c"], emulation=True)
    emu_readme = (emulated.out_dir / "README.md").read_text()
    assert "emulation build" in emu_readme and f"flynet-tiny emulate firmware.elf --target {target.name}" in emu_readme


def test_the_library_folder_holds_no_link_step_and_explains_cubeide(tmp_path):
    layer = write(tmp_path / "layer.c", "int run_layer(int x) { return 3 * x; }\n")
    result = build_library(tmp_path / "lib", load_target("f746zg"), [layer])
    makefile = (result.out_dir / "Makefile").read_text()
    assert "-T " not in makefile and "LDFLAGS" not in makefile  # nothing is linked: no linker script needed
    readme = (result.out_dir / "README.md").read_text()
    for step in ("STM32CubeIDE", "Include path", "add `flynet` under Libraries (-l)",
                 ".fn_weights : ALIGN(16)", ".fn_arena (NOLOAD)", "-mfpu=fpv5-sp-d16 -mfloat-abi=hard"):
        assert step in readme, step
    away = copy_elsewhere(result.out_dir, tmp_path)
    subprocess.run(["make", "-C", str(away)], check=True, capture_output=True)
    subprocess.run(["cmake", "-S", str(away), "-B", str(away / "cmake-build")], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(away / "cmake-build")], check=True, capture_output=True)
    members = subprocess.run(["arm-none-eabi-ar", "t", str(away / "libflynet.a")], capture_output=True, text=True,
                             check=True).stdout.split()
    assert members == ["layer.c.obj"]  # CMake's object name, in the folder's libflynet.a


def test_library_sizes_match_binutils_size(tmp_path):
    layer = write(tmp_path / "layer.c", "int table[4] = {1, 2, 3, 4};\nint scratch[8];\n"
                  "int run_layer(int x) { scratch[x & 7] = x; return table[x & 3] * x; }\n")
    result = build_library(tmp_path / "lib", load_target("f446re"), [layer])
    totals = subprocess.run(["arm-none-eabi-size", "-t", str(result.archive)], capture_output=True, text=True,
                            check=True).stdout.strip().splitlines()[-1].split()
    assert (result.text_bytes, result.data_bytes, result.bss_bytes) == tuple(int(v) for v in totals[:3])
    assert result.data_bytes == 16 and result.bss_bytes == 32
