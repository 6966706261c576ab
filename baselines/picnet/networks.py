"""PIC-Net's networks (Zheng et al., CVPR 2019): the shared encoder E, the generator G and the
ResNet discriminator used for both D and D_rec.

Facts (block structure, widths, activations, where attention sits) come from the official
lyndonzheng/Pluralistic-Inpainting (model/network.py, model/base_function.py, 034a758) at the
configuration its pluralistic_model.py builds: ngf = ndf = 32, img_f = 128, z_nc = 128,
layers = 5, E with L = 6 prior refinement blocks, G with L = 0 and output_scale = 4. With
layers = 5 the latent is 128 x S/32 x S/32 for an S x S image (8 x 8 at 256).

Attribute names follow the official ones (block0, encoder0, infer_prior0, posterior, prior,
generator, decoder0, out1, attn1, conv1, conv2, bypass, query_conv, ...), so parameters can be
compared with /work/shared/parity/picnet/*.tsv and an official checkpoint renamed by
`from_official_state_dict`; the official code also registers each conv a second time inside
nn.Sequential containers, which is not reproduced (it adds no parameters).

Masks here are PIC-Net's: 1 = visible. The adapter (baselines/picnet/method.py) converts.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

NGF = 32  # base width of E, G and D (ngf = ndf = 32)
MAX_WIDTH = 128  # img_f: the widest feature map
Z_CHANNELS = 128  # z_nc
LAYERS = 5  # down-/up-sampling stages: latent side = image side / 2**LAYERS
PRIOR_REFINEMENTS = 6  # E's L: ResBlocks before the prior head
OUTPUT_SCALES = 4  # G emits images at S/8, S/4, S/2 and S
ATTENTION_STAGE = 2  # index of E's feature (side S/8) that the long-term attention reads


def leaky(slope: float = 0.1) -> nn.LeakyReLU:
    """The official 'LeakyReLU' activation option is LeakyReLU(0.1)."""
    return nn.LeakyReLU(slope)


def width(stage: int) -> int:
    """Channels after encoder stage `stage` (0 = first block): 32, 64, 128, 128, 128."""
    return min(NGF * 2**stage, MAX_WIDTH)


def l2normalize(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """x / (|x| + eps), the official normalisation of the power-iteration vectors."""
    return x / (x.norm() + eps)


class SharedSigma(torch.autograd.Function):
    """sigma = u . (W v) whose gradient reads u and v when the backward runs, not when the
    forward ran: the official SpectralNorm's u, v are Parameters whose `.data` each forward pass
    replaces, so a later pass in the same step (the critic's fake pass after its real pass)
    changes the gradient of an earlier one. dsigma/dW = u vᵀ with the vectors as they are then."""

    @staticmethod
    def forward(ctx, matrix: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        ctx.vectors = (u, v)  # the buffers themselves, deliberately not saved (versioned) copies
        return torch.dot(u, torch.mv(matrix, v))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple:
        u, v = ctx.vectors
        return grad * torch.outer(u, v), None, None


def power_step(conv: nn.Module) -> None:
    """One official power iteration, in place: v = l2(Wᵀu), then u = l2(W v)."""
    with torch.no_grad():
        matrix = conv.weight_orig.flatten(1)
        conv.weight_v.copy_(l2normalize(matrix.t() @ conv.weight_u))
        conv.weight_u.copy_(l2normalize(matrix @ conv.weight_v))


class AuthorsSpectralNorm:
    """Forward pre-hook: the authors' SpectralNorm (model/external_function.py) on a conv whose
    weight is `weight_orig`, with vectors `weight_u`, `weight_v` (torch spectral_norm's names).

    In training mode every forward pass takes one power step on the shared u, v in place and
    divides by sigma = u . (W v) computed from them (`SharedSigma`); in eval mode u, v stay fixed.
    """

    def __call__(self, conv: nn.Module, inputs: tuple) -> None:
        del inputs
        if conv.training:
            power_step(conv)
        weight = conv.weight_orig
        conv.weight = weight / SharedSigma.apply(weight.flatten(1), conv.weight_u, conv.weight_v)


def is_spectral_normed(module: nn.Module) -> bool:
    return any(isinstance(hook, AuthorsSpectralNorm) for hook in module._forward_pre_hooks.values())


def sn(conv: nn.Module) -> nn.Module:
    """The authors' spectral norm (`AuthorsSpectralNorm`), one power iteration, rows = weight
    dim 0 (as the official reshape), with one power step already taken at build.

    PyTorch's default conv initialisation is kept: the official orthogonal init skips these
    convs because its SpectralNorm removes `.weight` before `init_weights` runs. u, v start as
    torch's spectral_norm starts them (normalised normals, u then v, from the global RNG).
    """
    weight = conv.weight
    del conv._parameters["weight"]
    conv.register_parameter("weight_orig", nn.Parameter(weight.detach()))
    conv.weight = weight.detach()
    rows = weight.flatten(1)
    conv.register_buffer("weight_u", F.normalize(rows.new_empty(rows.shape[0]).normal_(0, 1), dim=0, eps=1e-12))
    conv.register_buffer("weight_v", F.normalize(rows.new_empty(rows.shape[1]).normal_(0, 1), dim=0, eps=1e-12))
    conv.register_forward_pre_hook(AuthorsSpectralNorm())
    # departure: u, v start one power step from random (the official's start random), so an eval-mode pass before training divides by a sensible sigma.
    power_step(conv)
    return conv


def sn_conv(cin: int, cout: int, kernel: int, padding: int) -> nn.Module:
    return sn(nn.Conv2d(cin, cout, kernel, padding=padding))


def sn_up(cin: int, cout: int) -> nn.Module:
    """x2 transposed conv (3x3, stride 2, padding 1, output_padding 1)."""
    return sn(nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1))


class ResBlock(nn.Module):
    """Pre-activation residual block: act-conv3-act-conv3 plus a 1x1 shortcut; optional /2."""

    def __init__(self, cin: int, cout: int, hidden: int, *, down: bool = False, slope: float = 0.1):
        super().__init__()
        self.conv1 = sn_conv(cin, hidden, 3, 1)
        self.conv2 = sn_conv(hidden, cout, 3, 1)
        self.bypass = sn_conv(cin, cout, 1, 0)
        self.act = leaky(slope)
        self.down = down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        main = self.conv2(self.act(self.conv1(self.act(x))))
        short = self.bypass(x)
        if self.down:
            return F.avg_pool2d(main, 2) + F.avg_pool2d(short, 2)
        return main + short


class StemBlock(nn.Module):
    """First block of E and D: conv3-act-conv3-pool, plus pool-conv1x1 (no leading act)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = sn_conv(cin, cout, 3, 1)
        self.conv2 = sn_conv(cout, cout, 3, 1)
        self.bypass = sn_conv(cin, cout, 1, 0)
        self.act = leaky()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        main = F.avg_pool2d(self.conv2(self.act(self.conv1(x))), 2)
        return main + self.bypass(F.avg_pool2d(x, 2))


class UpBlock(nn.Module):
    """G's decoder block (x2): IN-act-conv3-IN-act-convT, plus a convT shortcut."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.norm1 = nn.InstanceNorm2d(cin, affine=True)
        self.conv1 = sn_conv(cin, cout, 3, 1)
        self.norm2 = nn.InstanceNorm2d(cout, affine=True)
        self.conv2 = sn_up(cout, cout)
        self.bypass = sn_up(cin, cout)
        self.act = leaky()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.conv1(self.act(self.norm1(x)))
        return self.conv2(self.act(self.norm2(hidden))) + self.bypass(x)


class ToImage(nn.Module):
    """G's output head: act, reflection pad, 3x3 conv to RGB, tanh (no norm)."""

    def __init__(self, cin: int):
        super().__init__()
        self.act = leaky()
        self.conv1 = sn_conv(cin, 3, 3, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv1(F.pad(self.act(x), (1, 1, 1, 1), mode="reflect")))


class ShortLongAttention(nn.Module):
    """Auto_Attn: self-attention whose key is its query and whose value is the input itself.

    Short-term: out = gamma * (x A^T) + x, A = softmax(q^T q) over the H*W positions.
    Long-term (G only, given `pre` and the visible mask): holes receive alpha * (pre A^T),
    visible positions keep `pre`; a ResBlock(2C -> C, LeakyReLU 0.01) fuses both.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.query_conv = nn.Conv2d(channels, channels // 4, 1)  # the only conv without SN
        self.gamma = nn.Parameter(torch.zeros(1))
        self.alpha = nn.Parameter(torch.zeros(1))
        # D builds this fusion block too but never calls it (no `pre`); it is kept so that
        # D's parameter count equals the official 1,591,490.
        self.model = ResBlock(2 * channels, channels, channels, slope=0.01)

    def forward(
        self, x: torch.Tensor, pre: torch.Tensor | None = None, visible: torch.Tensor | None = None
    ) -> torch.Tensor:
        n, c, h, w = x.shape
        query = self.query_conv(x).flatten(2)  # n, c/4, hw
        attention = torch.softmax(query.transpose(1, 2) @ query, dim=-1)  # n, hw, hw

        def attend(values: torch.Tensor) -> torch.Tensor:
            return (values.flatten(2) @ attention.transpose(1, 2)).view(n, -1, h, w)

        out = self.gamma * attend(x) + x
        if pre is None:
            return out
        context = self.alpha * (1 - visible) * attend(pre) + visible * pre
        return self.model(torch.cat([out, context], dim=1))


class Encoder(nn.Module):
    """ResEncoder: features at S/2 ... S/32, then the posterior and the prior heads.

    Each head gives (mu, sigma) of a Normal over the 128 x S/32 x S/32 latent, with
    sigma = softplus of the second half of the head's output.
    """

    def __init__(self):
        super().__init__()
        self.block0 = StemBlock(3, width(0))
        for i in range(LAYERS - 1):
            self.add_module(f"encoder{i}", ResBlock(width(i), width(i + 1), width(i), down=True))
        top = width(LAYERS - 1)
        for i in range(PRIOR_REFINEMENTS):
            self.add_module(f"infer_prior{i}", ResBlock(top, top, top))
        self.posterior = ResBlock(top, 2 * Z_CHANNELS, top)
        self.prior = ResBlock(top, 2 * Z_CHANNELS, top)

    def features(self, image: torch.Tensor) -> list[torch.Tensor]:
        out = self.block0(image)
        features = [out]
        for i in range(LAYERS - 1):
            out = getattr(self, f"encoder{i}")(out)
            features.append(out)
        return features

    def forward(self, masked: torch.Tensor, complement: torch.Tensor) -> tuple:
        """Training pass over both paths at once (one batch): features of [masked; complement],
        the posterior q(z | complement) and the prior p(z | masked), each as (mu, sigma)."""
        features = self.features(torch.cat([masked, complement]))
        top_m, top_c = features[-1].chunk(2)
        return features, self.posterior_of(top_c), self.prior_of(top_m)

    @staticmethod
    def _normal(head_output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, raw_sigma = head_output.split(Z_CHANNELS, dim=1)
        return mu, F.softplus(raw_sigma)

    def posterior_of(self, top_feature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """p(z | I_c): from the hole content's top feature."""
        return self._normal(self.posterior(top_feature))

    def prior_of(self, top_feature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z | I_m): from the visible image's top feature, after the refinement blocks."""
        out = top_feature
        for i in range(PRIOR_REFINEMENTS):
            out = getattr(self, f"infer_prior{i}")(out)
        return self._normal(self.prior(out))


class Generator(nn.Module):
    """ResGenerator: z (+ visible feature) -> images at S/8, S/4, S/2, S (coarse to fine).

    Decoder i doubles the side; from decoder 1 on, each stage emits an RGB image that is
    concatenated into the next decoder's input; the short+long-term attention follows decoder 1.
    """

    def __init__(self):
        super().__init__()
        top = width(LAYERS - 1)
        self.generator = ResBlock(Z_CHANNELS, top, top)
        cin = top
        for i in range(LAYERS):
            cout = width(LAYERS - 1 - i)
            self.add_module(f"decoder{i}", UpBlock(cin, cout))
            if i >= LAYERS - OUTPUT_SCALES:
                self.add_module(f"out{i}", ToImage(cout))
            if i == 1:
                self.attn1 = ShortLongAttention(cout)
            cin = cout + 3 if i >= LAYERS - OUTPUT_SCALES else cout

    def forward(
        self, z: torch.Tensor, f_m: torch.Tensor, f_e: torch.Tensor, visible: torch.Tensor
    ) -> list[torch.Tensor]:
        """`f_m`: E's top feature of I_m; `f_e`: E's S/8 feature of I_m; `visible`: S/8 mask."""
        out = f_m + self.generator(z)
        images = []
        for i in range(LAYERS):
            out = getattr(self, f"decoder{i}")(out)
            if i == 1:
                out = self.attn1(out, f_e, visible)
            if i >= LAYERS - OUTPUT_SCALES:
                image = getattr(self, f"out{i}")(out)
                images.append(image)
                if i < LAYERS - 1:
                    out = torch.cat([out, image], dim=1)
        return images


class Discriminator(nn.Module):
    """ResDiscriminator: residual down blocks with self-attention at S/8, then a 3x3 conv.

    The last conv has no padding, giving a 6 x 6 score map at 256 (2 x 2 at 128). Below 96 the
    S/32 map is too small for it, so `final_padding` = 1 is used there (see the adapter).
    """

    def __init__(self, final_padding: int = 0):
        super().__init__()
        self.block0 = StemBlock(3, width(0))
        for i in range(LAYERS - 1):
            if i == 2:
                self.attn2 = ShortLongAttention(width(i))
            self.add_module(f"encoder{i}", ResBlock(width(i), width(i + 1), width(i), down=True))
        top = width(LAYERS - 1)
        self.block1 = ResBlock(top, top, top)
        self.act = leaky()
        self.conv = sn_conv(top, 1, 3, final_padding)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        out = self.block0(image)
        for i in range(LAYERS - 1):
            if i == 2:
                out = self.attn2(out)
            out = getattr(self, f"encoder{i}")(out)
        return self.conv(self.act(self.block1(out)))


def init_like_official(net: nn.Module) -> nn.Module:
    """The official init: orthogonal (gain 0.02), zero bias, on convs that still own `.weight`.

    Spectral-normed convs are skipped, as in the official code, so in practice only the
    attention's query conv is re-initialised; instance-norm affine parameters keep (1, 0).
    """
    for module in net.modules():
        owns_weight = isinstance(getattr(module, "weight", None), nn.Parameter)
        if isinstance(module, nn.Conv2d) and owns_weight:
            nn.init.orthogonal_(module.weight, gain=0.02)
            nn.init.zeros_(module.bias)
    return net


_DUPLICATE = re.compile(r"\.(model|shortcut)\.\d+\.module\.")


def official_name(name: str) -> str | None:
    """Our name for an official checkpoint entry (without the DataParallel prefix), or None for
    the official code's second registration of a conv (e.g. `model.2` beside `conv1`).

    `.module.weight_bar` becomes `.weight_orig`; decoder norms `model.0`/`model.3` become
    `norm1`/`norm2`; `weight_u`/`weight_v` (official frozen Parameters) load into our buffers.
    """
    if _DUPLICATE.search(name):
        return None
    name = re.sub(r"\.model\.0\.", ".norm1.", name)
    name = re.sub(r"\.model\.3\.", ".norm2.", name)
    return name.replace(".module.weight_bar", ".weight_orig").replace(".module.", ".")


def from_official_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an official state dict (e.g. latest_net_G.pth without `module.`) to our names,
    dropping the second registrations (`official_name`)."""
    return {official_name(name): value for name, value in state.items()
            if official_name(name) is not None}
