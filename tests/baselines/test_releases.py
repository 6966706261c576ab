"""The authors' released weights, written as their code writes them, load through
Method.load_official: every tensor lands, wrong or truncated files fail clearly and load
nothing, CUDA-saved files load on the CPU, and the forward is the official network's."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from baselines.glcic import release as glcic_release
from baselines.picnet import release as picnet_release
from baselines.picnet.networks import ATTENTION_STAGE
from bench.method import MethodSpec, ReleaseError
from bench.methods import create
from tests import release_files
from tests.parity import PARITY, needs, official_rows

needs_pennet = needs("pennet/generator_params.tsv", "pennet/generator_io.pt")
needs_picnet = needs("picnet/E.tsv", "picnet/G.tsv", "picnet/latest_net_E.pth",
                     "picnet/latest_net_G.pth", "picnet/picnet_io.pt")


def snapshot(method) -> dict[str, dict[str, torch.Tensor]]:
    return {n: {k: v.clone() for k, v in net.state_dict().items()} for n, net in method.networks.items()}


def unchanged(method, before) -> bool:
    return all(torch.equal(v, before[n][k]) for n, net in method.networks.items()
               for k, v in net.state_dict().items())


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


# --- PEN-Net ---------------------------------------------------------------------------------
@needs_pennet
def test_pennet_release_saved_on_cuda_loads_on_cpu(tmp_path):
    weights = release_files.random_tensors(official_rows("pennet/generator_params.tsv"), 3)
    path = tmp_path / "gen_00050.pth"
    with release_files.saved_as_if_on_cuda():
        release_files.pennet_generator(path, weights, data_parallel=True)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):  # the file really claims CUDA storage
            torch.load(path, weights_only=True)
    method = create("pennet", MethodSpec(image_size=64))
    record = method.load_official(path)
    assert all(torch.equal(method.generator.state_dict()[k], v) for k, v in weights.items())
    assert record["files"] == {"gen_00050.pth": record["files"]["gen_00050.pth"]}
    assert record["kind"] == "released" and record["format"] == "pennet-netG"


@needs_pennet
def test_pennet_truncated_and_foreign_files_are_refused(tmp_path):
    method = create("pennet", MethodSpec(image_size=64))
    before = snapshot(method)
    path = release_files.pennet_generator(tmp_path / "gen.pth", release_files.random_tensors(
        official_rows("pennet/generator_params.tsv"), 0))
    truncate(path)
    with pytest.raises(ReleaseError, match=r"gen\.pth: not a readable torch file"):
        method.load_official(path)
    torch.save({"netG": {"conv.weight": torch.zeros(2)}}, path)
    with pytest.raises(ReleaseError, match="gen.pth: not a PEN-Net generator checkpoint"):
        method.load_official(path)
    assert unchanged(method, before)


# --- PIC-Net ---------------------------------------------------------------------------------
@needs_picnet
def test_picnet_release_written_as_save_networks_loads_every_tensor(tmp_path):
    folder = tmp_path / "picnet-paris-center"
    folder.mkdir()
    with release_files.saved_as_if_on_cuda():
        written = {n: release_files.picnet_network(folder / f"latest_net_{n}.pth", f"picnet/{n}.tsv", seed)
                   for seed, n in enumerate("EG")}
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(folder / "latest_net_E.pth", weights_only=True)
    method = create("picnet", MethodSpec(image_size=64))
    weights = method.read_official(folder)
    assert {(t.network, t.source_key.removeprefix("module.")) for t in weights.tensors} == {
        (n, k) for n, state in written.items() for k in state
        if not release_files.SECOND.match(k)}  # every primary tensor, once
    record = method.load_official(folder)
    assert record["release"] == "picnet-paris-center" and record["format"] == "picnet-E+G"
    assert sorted(record["files"]) == ["latest_net_E.pth", "latest_net_G.pth"]
    for item in weights.tensors:
        ours = method.networks[item.network].state_dict()[item.key]
        if item.key.endswith(("weight_u", "weight_v")):
            continue  # moved by the official power step; checked below
        assert torch.equal(ours, item.tensor), item.source_key


@needs_picnet
def test_picnet_power_step_is_the_official_one(tmp_path):
    """After loading, every spectral-normed conv's u, v are one official power step from the
    file's: v = Wᵀu / (|Wᵀu| + 1e-12), u = Wv / (|Wv| + 1e-12)."""
    method = create("picnet", MethodSpec(image_size=64))
    weights = method.read_official(PARITY / "picnet")
    method.load_official(PARITY / "picnet")
    file = {(t.network, t.key): t.tensor for t in weights.tensors}
    convs = [(n, k.removesuffix(".weight_orig")) for n, k in file if k.endswith(".weight_orig")]
    assert len(convs) == 64  # every spectral-normed conv of E and G
    for network, conv in convs:
        w = file[network, f"{conv}.weight_orig"].flatten(1)
        v = w.t() @ file[network, f"{conv}.weight_u"]
        v = v / (v.norm() + 1e-12)
        u = w @ v
        state = method.networks[network].state_dict()
        torch.testing.assert_close(state[f"{conv}.weight_v"], v, rtol=0, atol=1e-6)
        torch.testing.assert_close(state[f"{conv}.weight_u"], u / (u.norm() + 1e-12), rtol=0, atol=1e-6)
    assert any("power step" in d for d in method.departures())


@needs_picnet
def test_picnet_wrong_files_are_refused_and_load_nothing(tmp_path):
    method = create("picnet", MethodSpec(image_size=64))
    before = snapshot(method)
    folder = tmp_path / "release"
    folder.mkdir()
    state = torch.load(PARITY / "picnet" / "latest_net_G.pth", weights_only=True)
    torch.save(state, folder / "latest_net_E.pth")  # G twice
    torch.save(state, folder / "latest_net_G.pth")
    with pytest.raises(ReleaseError, match=r"latest_net_G\.pth: holds PIC-Net's G, as .*latest_net_E\.pth does"):
        method.load_official(folder)
    with pytest.raises(ReleaseError, match=r"holds PIC-Net's G only; a release is E \+ G"):
        method.load_official(folder / "latest_net_G.pth")
    e = torch.load(PARITY / "picnet" / "latest_net_E.pth", weights_only=True)
    key = "module.prior.conv2.module.weight_bar"
    twins = [k for k, v in e.items() if v.untyped_storage().data_ptr() == e[key].untyped_storage().data_ptr()]
    assert len(twins) == 2  # conv2 and its second registration model.3
    wrong = torch.zeros(256, 128, 1, 1)
    e.update({k: wrong for k in twins})
    torch.save(e, folder / "latest_net_E.pth")
    with pytest.raises(ReleaseError, match=r"latest_net_E\.pth: module\.prior\.conv2\.module\.weight_bar "
                                           r"has shape \(256, 128, 1, 1\); ours \(E\.prior\.conv2\.weight_orig\) "
                                           r"is \(256, 128, 3, 3\)"):
        method.load_official(folder)
    for k in twins:
        del e[k]
    torch.save(e, folder / "latest_net_E.pth")
    with pytest.raises(ReleaseError, match=r"E\.prior\.conv2\.weight_orig \(256, 128, 3, 3\) is missing"):
        method.load_official(folder)
    torch.save(torch.load(PARITY / "picnet" / "latest_net_E.pth", weights_only=True), folder / "latest_net_E.pth")
    truncate(folder / "latest_net_G.pth")
    with pytest.raises(ReleaseError, match=r"latest_net_G\.pth: not a readable torch file"):
        method.load_official(folder)
    assert unchanged(method, before)


@needs_picnet
def test_picnet_release_reproduces_the_official_forward():
    """The fixture's release files through load_official, then the method's own test pass with
    the fixture's sampling noise: E's prior, G's four scales and the output match the record."""
    record = torch.load(PARITY / "picnet" / "picnet_io.pt")
    method = create("picnet", MethodSpec(image_size=256))
    method.load_official(PARITY / "picnet")
    E, G = method.networks["E"].eval(), method.networks["G"].eval()
    with torch.no_grad():
        features = E.features(record["img_m"])
        mu, sigma = E.prior_of(features[-1])
        torch.testing.assert_close(mu, record["prior_mu"], rtol=0, atol=1e-5)
        torch.testing.assert_close(sigma, record["prior_std"], rtol=0, atol=1e-5)
        small = F.interpolate(record["official_mask"], size=features[ATTENTION_STAGE].shape[-2:],
                              mode="bilinear", align_corners=True)[:, :1]
        for ours, theirs in zip(G(record["z"], features[-1], features[ATTENTION_STAGE], small), record["img_g"]):
            torch.testing.assert_close(ours, theirs, rtol=0, atol=2e-5)
    method._inference_noise = lambda *args: record["eps"][None]
    holes = record["hole_mask"]
    with torch.no_grad():
        output = method.inpaint(record["image"] * (1 - holes), holes)
    torch.testing.assert_close(output, record["output"], rtol=0, atol=2e-5)


# --- GLCIC -----------------------------------------------------------------------------------
def official_glcic_forward(modules, mean, image01: torch.Tensor, holes: torch.Tensor) -> torch.Tensor:
    """inpaint.lua's pass, module by module with Torch7's semantics (eval-mode BN), on the
    written Sequential: input = [(I - mean) with holes 0, M]; output in [0, 1]."""
    x = image01 - torch.tensor(mean).view(1, 3, 1, 1)
    x = torch.cat([x.masked_fill(holes.bool().expand_as(x), 0), holes], 1).double()
    for m in modules:
        f, kind = m.fields, m.typename
        t = {k: torch.from_numpy(np.asarray(v)).double() for k, v in f.items() if isinstance(v, np.ndarray)}
        if kind in ("nn.SpatialConvolution", "nn.SpatialDilatedConvolution"):
            x = F.conv2d(x, t["weight"], t["bias"], (f["dH"], f["dW"]), (f["padH"], f["padW"]),
                         (f.get("dilationH", 1), f.get("dilationW", 1)))
        elif kind == "nn.SpatialFullConvolution":
            x = F.conv_transpose2d(x, t["weight"], t["bias"], (f["dH"], f["dW"]), (f["padH"], f["padW"]),
                                   (f["adjH"], f["adjW"]))
        elif kind == "nn.SpatialBatchNormalization":
            shape = (1, -1, 1, 1)
            x = ((x - t["running_mean"].view(shape)) / (t["running_var"].view(shape) + f["eps"]).sqrt()
                 * t["weight"].view(shape) + t["bias"].view(shape))
        elif kind == "nn.ReLU":
            x = x.clamp_min(0)
        elif kind == "nn.Sigmoid":
            x = x.sigmoid()
    return x.float()


def test_glcic_torch7_release_loads_every_tensor_and_forwards_as_inpaint_lua(tmp_path):
    modules = release_files.glcic_modules(seed=5)
    mean = (0.4560, 0.4472, 0.4155)
    path = release_files.glcic_t7(tmp_path / "completionnet_places2.t7", modules, mean)
    method = create("glcic", MethodSpec(image_size=32))
    record = method.load_official(path)
    assert record["format"] == "glcic-torch7" and record["release"] is None
    assert method.released_mean == pytest.approx(mean)
    state = method.completion.state_dict()
    layers = [m for m in modules if m.typename not in ("nn.ReLU", "nn.Sigmoid")]
    ours = [n for n, _ in method.completion.named_children()]
    assert len(layers) == len(ours) == 33
    for module, name in zip(layers, ours):
        for key in ("weight", "bias", "running_mean", "running_var"):
            if key in module.fields:
                assert torch.equal(state[f"{name}.{key}"], torch.from_numpy(module.fields[key])), (name, key)
    torch.manual_seed(0)
    image = torch.rand(2, 3, 32, 32)
    holes = torch.zeros(2, 1, 32, 32)
    holes[0, :, 8:24, 8:24] = 1
    holes[1, :, 2:12, 14:30] = 1
    expected = official_glcic_forward(modules, mean, image, holes)
    method.eval()
    with torch.no_grad():
        ours_out = method.inpaint((image * 2 - 1) * (1 - holes), holes)
    torch.testing.assert_close((ours_out + 1) / 2, expected, rtol=0, atol=1e-5)
    assert any("0.2" in d for d in method.departures())


def test_glcic_wrong_and_truncated_files_are_refused_and_load_nothing(tmp_path):
    method = create("glcic", MethodSpec(image_size=32))
    before = snapshot(method)
    modules = release_files.glcic_modules(seed=1)
    path = tmp_path / "completionnet_celeba.t7"
    wrong = [*modules]
    wrong[1] = release_files.torch7_writer.Module("nn.ReLU", {})
    release_files.glcic_t7(path, wrong)
    with pytest.raises(ReleaseError, match=r"celeba\.t7: model\.modules\[2\] is nn\.ReLU; our network has "
                                           r"nn\.SpatialBatchNormalization there"):
        method.load_official(path)
    dilated = [*modules]
    dilated[18] = release_files.torch7_writer.Module(modules[18].typename, {**modules[18].fields, "dilationW": 3})
    release_files.glcic_t7(path, dilated)
    with pytest.raises(ReleaseError, match=r"modules\[19\] \(nn\.SpatialDilatedConvolution\) has dilationW = 3; ours is 2"):
        method.load_official(path)
    release_files.glcic_t7(path, modules[:-2])
    with pytest.raises(ReleaseError, match=r"model has 48 modules, ours 50 \(first missing: nn\.SpatialConvolution\)"):
        method.load_official(path)
    release_files.glcic_t7(path, modules, mean=(0.5, 0.5))
    with pytest.raises(ReleaseError, match="mean must be 3 numbers"):
        method.load_official(path)
    release_files.glcic_t7(path, modules)
    truncate(path)
    with pytest.raises(ReleaseError, match=r"celeba\.t7: not a readable Torch7 file"):
        method.load_official(path)
    assert unchanged(method, before) and method.released_mean is None
    assert not any("0.2" in d for d in method.departures())


def test_glcic_release_departures_are_commented_where_they_happen():
    commented = re.findall(r"# departure: (.+)", Path(glcic_release.__file__).read_text())
    assert commented == glcic_release.DEPARTURES


def test_every_release_is_recognised_by_content_not_name(tmp_path):
    """A GLCIC file named like PIC-Net's, and PEN-Net's format handed to GLCIC, are refused."""
    path = release_files.glcic_t7(tmp_path / "latest_net_G.pth", release_files.glcic_modules(seed=2))
    with pytest.raises(ReleaseError, match="not a readable torch file"):
        create("pennet", MethodSpec(image_size=64)).load_official(path)
    torch.save({"netG": {"encoder.0.weight": torch.zeros(1)}}, tmp_path / "completionnet_places2.t7")
    with pytest.raises(ReleaseError, match="not a readable Torch7 file|not a GLCIC completion network"):
        create("glcic", MethodSpec(image_size=32)).load_official(tmp_path / "completionnet_places2.t7")
    assert glcic_release.FORMAT != picnet_release.FORMAT
