import json

import pytest
from click.testing import CliRunner

from flynet_tiny.cli import cli
from flynet_tiny.errors import FlynetError
from flynet_tiny.targets import load_target, target_names


def test_both_boards_are_described():
    assert target_names() == ["f446re", "f746zg"]
    f446 = load_target("f446re")
    assert (f446.core, f446.clock_hz, f446.flash_bytes, f446.sram_bytes) == ("cortex-m4", 180_000_000, 512 * 1024, 128 * 1024)
    f746 = load_target("F746ZG")
    assert (f746.core, f746.clock_hz, f746.flash_bytes, f746.sram_bytes) == ("cortex-m7", 216_000_000, 1024 * 1024, 320 * 1024)
    assert f746.region("DTCM").length == 64 * 1024


def test_f746zg_ram_regions_do_not_overlap():
    regions = sorted(load_target("f746zg").memory, key=lambda m: m.origin)
    for a, b in zip(regions, regions[1:]):
        assert a.origin + a.length <= b.origin, (a.name, b.name)


def test_unknown_target_names_the_known_ones():
    with pytest.raises(FlynetError, match="choose one of f446re, f746zg"):
        load_target("esp32")


def test_targets_command_json():
    result = CliRunner().invoke(cli, ["targets", "--json"])
    assert result.exit_code == 0
    assert [t["name"] for t in json.loads(result.output)] == ["f446re", "f746zg"]
