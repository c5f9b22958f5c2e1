"""`fit --suggest` for the F446RE with 1000 classes: its best configuration really builds and links.

The search space is cut to two heads, one width and two input sizes to keep the test near a
minute; the search itself is the one the command runs."""

from flynet_tiny.build.from_tflite import build_from_tflite
from flynet_tiny.fit import elf_usage, model_tflite_bytes
from flynet_tiny.fit.suggest import commands_for, suggest
from flynet_tiny.targets import load_target


def test_best_suggestion_builds_and_links_for_the_f446re(tmp_path):
    target = load_target("f446re")
    result = suggest(target, classes=1000, heads=(1, 2), widths=("0.25", "0.4"), sizes=(64, 96), top=1, margin=0.1)
    best = result.best
    assert best is not None and best.spec.classes == 1000
    assert best.estimate.fits(0.1)
    # ranked by MAdds among those that fit; width 0.4 is over flash on parameters alone
    assert all(c.madds <= best.madds for c in result.candidates if c.verdict == "fits")
    assert all(c.verdict.startswith("weights alone") for c in result.candidates if c.width == "0.4")
    assert any(line.startswith(f"flynet-tiny export --checkpoint runs/{best.spec.name}") for line in commands_for(best, target))

    tflite = tmp_path / "best.tflite"
    tflite.write_bytes(model_tflite_bytes(best.spec))
    build = build_from_tflite(tflite, target, tmp_path / "build")  # raises CheckFailed if a region overflows
    real = elf_usage(build.elf, target)
    for region in best.estimate.regions:
        assert real.regions[region.name] <= real.sizes[region.name]
        assert abs(region.used - real.regions[region.name]) <= 0.03 * real.regions[region.name]
