"""Emulation stage: run firmware in QEMU, count instructions per layer, estimate latency.

    from flynet_tiny.sim.qemu import run_qemu
    result = run_qemu(build.elf, load_target("f446re"), timeout_s=60)
    [(layer.name, layer.instructions, layer.classes) for layer in result.layers]
"""
