"""Renode script generation (Renode itself is not installed on these machines)."""

from pathlib import Path

import pytest

from flynet_tiny.build.make import build_firmware
from flynet_tiny.errors import FlynetError
from flynet_tiny.sim.renode import run_renode
from flynet_tiny.targets import load_target

PROGRAMS = Path(__file__).parent / "sim_programs"


@pytest.mark.parametrize("target_name", ["f446re", "f746zg"])
def test_missing_renode_is_one_line_and_the_script_is_written(tmp_path, monkeypatch, target_name):
    target = load_target(target_name)
    build = build_firmware(tmp_path / "fw", target, [PROGRAMS / "fault_main.c"])
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(FlynetError, match=r"^Renode not found on PATH: wrote .*firmware\.resc"):
        run_renode(build.elf, target)
    script = build.elf.with_suffix(".resc").read_text()
    flash = next(r for r in target.memory if r.kind == "flash")
    assert f"machine LoadPlatformDescription @{target.emulator['renode_platform']}" in script
    assert f"sysbus LoadELF @{build.elf.resolve()}" in script
    assert f"cpu VectorTableOffset 0x{flash.origin:08X}" in script
    assert f"{target.emulator['renode_uart']} CreateFileBackend @" in script
    assert target.emulator["renode_uart"].endswith(target.uart["instance"].lower())
