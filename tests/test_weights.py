"""bench.weights and the Method contract for released weights: release folders, strict loading."""

from __future__ import annotations

import pytest
import torch

from bench import methods, weights
from bench.method import MethodSpec, ReleaseError
from tests import toy_method


@pytest.fixture
def registered(monkeypatch):
    for name, entry in toy_method.ENTRIES.items():
        monkeypatch.setitem(methods.REGISTRY, name, entry)


@pytest.fixture
def toy(registered):
    return methods.create("toy", MethodSpec(image_size=32))


def test_every_release_names_its_files_and_its_download_page():
    for name in ("pennet", "picnet", "glcic"):
        releases = methods.create(name, MethodSpec(image_size=64)).releases()
        assert releases and all(r.files and r.source.startswith("https://") for r in releases)
        assert all(r.name.startswith(f"{name}-") for r in releases)
    names = [r.name for n in ("pennet", "picnet", "glcic")
             for r in methods.create(n, MethodSpec(image_size=64)).releases()]
    assert len(names) == len(set(names)) == 4 + 8 + 3


def test_release_path_is_the_file_or_the_folder_and_names_what_is_missing(tmp_path):
    picnet = methods.create("picnet", MethodSpec(image_size=64))
    folder = tmp_path / "picnet-paris-center"
    folder.mkdir()
    (folder / "latest_net_E.pth").write_bytes(b"x")
    with pytest.raises(ReleaseError, match=r"latest_net_G\.pth: released weights not found.*drive\.google"):
        weights.release_path(picnet, "picnet-paris-center", tmp_path)
    (folder / "latest_net_G.pth").write_bytes(b"x")
    assert weights.release_path(picnet, "picnet-paris-center", tmp_path) == folder
    pennet = methods.create("pennet", MethodSpec(image_size=64))
    (tmp_path / "pennet-dtd").mkdir()
    (tmp_path / "pennet-dtd" / "gen_00030.pth").write_bytes(b"x")
    assert weights.release_path(pennet, "pennet-dtd", tmp_path) == tmp_path / "pennet-dtd" / "gen_00030.pth"
    (tmp_path / "pennet-dtd" / "gen_00050.pth").write_bytes(b"x")
    with pytest.raises(ReleaseError, match=r"gen_\*\.pth: 2 files match \(gen_00030\.pth, gen_00050\.pth\)"):
        weights.release_path(pennet, "pennet-dtd", tmp_path)
    with pytest.raises(ReleaseError, match="a release name needs the weights folder"):
        weights.resolve(pennet, "pennet-dtd", None)
    with pytest.raises(ReleaseError, match="no release 'pennet-mars'; known: pennet-celeba-hq"):
        weights.release_path(pennet, "pennet-mars", tmp_path)


def test_default_load_official_names_the_method_and_its_releases(tmp_path, registered):
    plain = methods.create("toy-plain", MethodSpec(image_size=32))
    with pytest.raises(ReleaseError, match="'toy-plain' cannot load released weights .*releases it knows: none"):
        plain.load_official(tmp_path / "w.pth")


def test_strict_load_names_key_and_shapes_and_loads_nothing(toy, tmp_path):
    before = {k: v.clone() for k, v in toy.networks["g"].state_dict().items()}
    state = {k: torch.randn_like(v) for k, v in before.items()}
    path = tmp_path / "w.pth"
    bad = dict(state, **{"0.weight": torch.zeros(8, 4, 5, 5)})
    torch.save(bad, path)
    with pytest.raises(ReleaseError, match=r"w\.pth: 0\.weight has shape \(8, 4, 5, 5\); ours \(g\.0\.weight\) is \(8, 4, 3, 3\)"):
        toy.load_official(path)
    torch.save({k: v for k, v in state.items() if k != "2.bias"}, path)
    with pytest.raises(ReleaseError, match=r"g\.2\.bias \(3,\) is missing"):
        toy.load_official(path)
    torch.save(dict(state, extra=torch.zeros(2)), path)
    with pytest.raises(ReleaseError, match=r"unexpected extra \(2,\)"):
        toy.load_official(path)
    after = toy.networks["g"].state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())  # nothing loaded half-way
    torch.save(state, path)
    record = toy.load_official(path)
    assert all(torch.equal(toy.networks["g"].state_dict()[k], v) for k, v in state.items())
    assert record == {"kind": "released", "format": "toy-state-dict", "release": None,
                      "files": {"w.pth": weights.sha256(path)}}
