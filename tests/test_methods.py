"""The registry is the only place in the harness that names a method; every entry builds."""

import re
from pathlib import Path

import pytest
import torch

from bench import methods
from bench.method import Method, MethodSpec

HARNESS = Path(__file__).resolve().parents[1] / "bench"


def test_no_harness_module_names_a_method():
    for path in HARNESS.rglob("*"):
        if path.suffix not in (".py", ".html", ".yaml") or path.name == "methods.py" or "configs" in path.parts:
            continue
        source = path.read_text()
        for name in methods.names():
            assert not re.search(rf"[\"']{re.escape(name)}[\"']", source), f"{path} names {name!r}"


@pytest.mark.parametrize("name", methods.names())
def test_every_entry_builds_a_method_that_inpaints(name):
    torch.manual_seed(0)
    method = methods.create(name, MethodSpec(image_size=64))
    assert isinstance(method, Method) and method.name == name
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    masks = torch.zeros(2, 1, 64, 64)
    masks[..., 16:48, 16:48] = 1
    out = method.eval().inpaint(images * (1 - masks), masks)
    assert out.shape == images.shape and out.min() >= -1 and out.max() <= 1
    assert all(isinstance(line, str) and line for line in method.departures())


def test_ablation_rows_and_paper_columns_come_from_the_registry():
    assert set(methods.ABLATION) == {"baseline", "+discriminator", "+residual_blocks"}
    assert methods.ABLATION["+residual_blocks"] == methods.REFERENCE
    assert methods.REFERENCE in methods.IN_PAPER_TABLES and len(methods.IN_PAPER_TABLES) == 4


def test_unknown_method_names_the_known_ones():
    with pytest.raises(methods.UnknownMethodError, match="unknown method 'lama'; known: "):
        methods.create("lama", MethodSpec())


def test_reference_and_colours_are_stated_by_each_entry_not_by_registry_order():
    assert [n for n, e in methods.REGISTRY.items() if e.reference] == [methods.REFERENCE]
    colours = [e.colour for e in methods.REGISTRY.values()]
    assert len(set(colours)) == len(colours) and all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colours)
    # Appending a method changes neither the reference nor anyone's colour.
    appended = {**methods.REGISTRY, "extra": methods.Entry("x:y", "an added method", "#000000")}
    assert [n for n, e in appended.items() if e.reference] == [methods.REFERENCE]
    assert all(appended[n].colour == e.colour for n, e in methods.REGISTRY.items())


def test_each_metric_direction_and_mask_setting_list_is_defined_in_one_module():
    sources = {p: p.read_text() for p in HARNESS.rglob("*.py")}
    for pattern in (r"higher_is_better\s*[:=]|HIGHER_IS_BETTER\s*=", r"\"irregular_\{"):
        owners = [p.name for p, text in sources.items() if re.search(pattern, text)]
        assert len(owners) == 1, (pattern, owners)


@pytest.mark.parametrize("name", [n for n, e in methods.REGISTRY.items() if e.paper_equivalent])
def test_a_paper_equivalent_entry_trains_exactly_as_its_twin(name):
    """Profiles train such a pair once (bench.profiles): it must be the same computation."""
    twin = methods.entry(name).paper_equivalent
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    masks = torch.zeros(2, 1, 64, 64)
    masks[..., 16:48, 16:48] = 1
    found = {}
    for which in (name, twin):
        torch.manual_seed(0)
        method = methods.create(which, MethodSpec(image_size=64, iterations=2))
        losses = [method.train_step(images, masks, step) for step in range(2)]
        found[which] = (losses, method.eval().inpaint(images * (1 - masks), masks))
    assert found[name][0] == found[twin][0]
    assert torch.equal(found[name][1], found[twin][1])
