"""The `flynet-tiny` command line. Each command is a thin wrapper over one stage module.

Exit codes: 0 ok, 1 a check failed, 2 usage or input error.
"""

from __future__ import annotations

import sys

import click

from .errors import FlynetError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="flynet-tiny")
def cli() -> None:
    """flynet-tiny: FlyNet from PyTorch to int8 firmware for Cortex-M4/M7 boards."""


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def targets(as_json: bool) -> None:
    """List the supported boards.

    Example: flynet-tiny targets
    """
    from .reporting import format_table, to_json
    from .targets import all_targets

    boards = all_targets()
    if as_json:
        click.echo(to_json([
            {
                "name": t.name, "board": t.board, "mcu": t.mcu, "core": t.core, "clock_hz": t.clock_hz,
                "flash_bytes": t.flash_bytes, "sram_bytes": t.sram_bytes,
                "memory": [{"name": m.name, "origin": m.origin, "length": m.length, "kind": m.kind} for m in t.memory],
            }
            for t in boards
        ]))
        return
    rows = [
        [t.name, t.board, t.core, f"{t.clock_hz // 1_000_000} MHz", f"{t.flash_bytes // 1024} KB",
         f"{t.sram_bytes // 1024} KB", ", ".join(f"{m.name} {m.length // 1024}K" for m in t.memory)]
        for t in boards
    ]
    click.echo(format_table(["target", "board", "core", "clock", "flash", "sram", "regions"], rows, "lllrrrl"))


@cli.command()
@click.argument("model_name", metavar="MODEL")
@click.option("--input-size", default=224, show_default=True, help="Square input resolution in pixels.")
@click.option("--classes", default=1000, show_default=True, help="Number of output classes.")
@click.option("--in-channels", default=3, show_default=True, help="Input channels: 1 or 3.")
@click.option("--stem-stride", default=2, show_default=True, help="Stem stride: 2, or 1 for small inputs.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def profile(model_name: str, input_size: int, classes: int, in_channels: int, stem_stride: int,
            as_json: bool) -> None:
    """Per-layer params, MAdds and int8 activation bytes of a registry model, with totals.

    Example: flynet-tiny profile flynet-h3-0.5 --input-size 224 --classes 1000
    """
    from .models import build_model
    from .models.profiler import format_profile, profile_model

    model = build_model(model_name, num_classes=classes, input_size=input_size, in_channels=in_channels,
                        stem_stride=stem_stride)
    result = profile_model(model, input_size, in_channels, name=model_name)
    click.echo(format_profile(result, as_json))

@cli.command()
@click.argument("elf", type=click.Path(dir_okay=False))
@click.option("--target", "target_name", required=True, help="Board the firmware was built for (see `flynet-tiny targets`).")
@click.option("--timeout", "timeout_s", default=60.0, show_default=True, help="Wall-clock limit in seconds.")
@click.option("--no-count", is_flag=True, help="Run without the instruction-counting plugin.")
@click.option("--board-elf", type=click.Path(dir_okay=False), default=None,
              help="Real-board build of the same program: also run it in Renode when renode is on PATH.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def emulate(elf: str, target_name: str, timeout_s: float, no_count: bool, board_elf: str | None, as_json: bool) -> None:
    """Run an emulation build in QEMU: per-layer instruction counts and estimated latency.

    Exits 1 when the firmware faults, hangs or returns non-zero, naming the layer.
    With --board-elf, writes a Renode script beside that ELF and runs it where Renode exists.

    Example: flynet-tiny emulate out/f446re-emu/firmware.elf --target f446re
    """
    from .reporting import to_json
    from .sim.qemu import run_qemu
    from .sim.report import emulation_json, emulation_table
    from .targets import load_target

    target = load_target(target_name)
    click.echo(f"running {elf} on QEMU {target.emulator['qemu_machine']} (timeout {timeout_s:g} s)", err=True)
    result = run_qemu(elf, target, timeout_s=timeout_s, plugin=not no_count)
    click.echo(to_json(emulation_json(result, target)) if as_json else emulation_table(result, target))
    if board_elf:
        from .errors import FlynetError
        from .sim.renode import find_renode, run_renode, write_resc

        if find_renode() is None:
            click.echo(f"Renode not found on PATH: wrote {write_resc(board_elf, target)[0]} for a machine that has it", err=True)
        else:
            renode = run_renode(board_elf, target, timeout_s=timeout_s)
            click.echo(renode.uart_text.rstrip(), err=True)
            if not renode.finished:
                raise FlynetError(f"Renode run of {board_elf} did not finish within {timeout_s:g} s")
    result.raise_for_failure()


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except FlynetError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
