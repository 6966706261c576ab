"""PIC-Net (Zheng et al., CVPR 2019, "Pluralistic Image Completion") as a harness Method.

Training follows the official model/pluralistic_model.py (lyndonzheng/Pluralistic-Inpainting,
034a758) with its default options: two paths through one forward of E and G, a reconstructive
path (z from the posterior of the hole content I_c) and a generative path (z from the prior of
the visible image I_m); then one D step (D and D_rec, one optimiser) and one G+E step.

Mask polarity: the harness gives 1 = hole; PIC-Net's masks are 1 = visible. `picnet_inputs`
converts at the boundary; everything past it uses `visible`.

Test time: N completions are sampled from the prior (option `samples`). `inpaint` returns the
first one. The official protocol instead keeps, per image, the sample that minimises
L1 - PSNR + TV against the ground truth (util/evaluation.py): an oracle that `inpaint` cannot
compute, since it must not read the hole pixels. With selection "best-of-N" the evaluator calls
`inpaint_candidates` and then `select_best` with the truth.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import kl_divergence

from baselines.picnet.networks import (
    ATTENTION_STAGE,
    LAYERS,
    OUTPUT_SCALES,
    Discriminator,
    Encoder,
    Generator,
    init_like_official,
)
from baselines.picnet import release as picnet_release
from bench.method import CheckedOptions, Method, MethodSpec, OfficialWeights, Release, frozen

DEFAULTS = {
    "samples": 1,  # prior samples drawn per image at test time (official test: 50)
    "selection": "first",  # "first" | "best-of-N" (the official oracle protocol)
    "lr": 1e-4,  # both optimisers (options/train_options.py)
    "betas": (0.0, 0.999),
    "lambda_kl": 20.0,  # multiplied by OUTPUT_SCALES as in the official code: x80
    "lambda_rec": 20.0,
    "gan_type": "lsgan",  # "lsgan" (official default) | "hinge"
}
SELECTIONS = ("first", "best-of-N")
GAN_TYPES = ("lsgan", "hinge")
LAMBDA_G = 1.0  # official lambda_g, weight of ad_g and ad_rec
SELECTION_RULE = {
    "first": "the first prior sample per image (any further samples are unused); no ground truth",
    "best-of-N": (
        "oracle: per image, the prior sample minimising L1 - PSNR + TV against the ground truth "
        "(official util/evaluation.py), so scores use the truth to choose among samples"
    ),
}


class Normal(torch.distributions.Normal):
    """torch's Normal without argument checks, as in the official code's torch (checks were
    off by default before torch 1.8): a diverged step's NaN scale gives a non-finite loss, which
    the trainer stops on, instead of a ValueError with a tensor dump."""

    def __init__(self, loc: torch.Tensor, scale: torch.Tensor) -> None:
        super().__init__(loc, scale, validate_args=False)


# --- the boundary between harness and PIC-Net conventions -----------------------------------
def picnet_inputs(
    images: torch.Tensor, holes: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Harness (images, masks with 1 = hole) -> PIC-Net's (visible mask, I_m, I_c).

    `visible` is 1 where pixels are known; I_m keeps them (holes exactly +0.0, so hole pixels
    leave no trace, not even a sign bit); I_c keeps the hole content (training only).
    """
    visible = 1.0 - holes
    is_hole = holes.bool()
    img_m = images.masked_fill(is_hole, 0.0)
    img_c = images.masked_fill(~is_hole, 0.0)
    return visible, img_m, img_c


def prior_sigma(visible: torch.Tensor) -> torch.Tensor:
    """The fixed prior's sigma_m = 1 / (1 + exp(8 (n - 0.8))), n = visible fraction - 1e-5."""
    n = visible.flatten(1).mean(dim=1) - 1e-5
    return (1.0 / (1.0 + torch.exp(8.0 * (n - 0.8)))).view(-1, 1, 1, 1)


def resize(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear, align_corners=True, as the official scale_img."""
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=True)


def pyramid(x: torch.Tensor) -> list[torch.Tensor]:
    """x at S/8, S/4, S/2 and S (coarse to fine), matching G's outputs; S itself unresized."""
    side = x.shape[-1]
    scaled = [resize(x, (side // 2**k, side // 2**k)) for k in range(OUTPUT_SCALES - 1, 0, -1)]
    return [*scaled, x]


# --- losses ---------------------------------------------------------------------------------
def gan_d_loss(real: torch.Tensor, fake: torch.Tensor, gan_type: str) -> torch.Tensor:
    """0.5 (real term + fake term), as the official backward_D_basic."""
    if gan_type == "lsgan":
        terms = F.mse_loss(real, torch.ones_like(real)) + F.mse_loss(fake, torch.zeros_like(fake))
    else:
        terms = F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
    return 0.5 * terms


def gan_g_loss(fake: torch.Tensor, gan_type: str) -> torch.Tensor:
    if gan_type == "lsgan":
        return F.mse_loss(fake, torch.ones_like(fake))
    return -fake.mean()


# --- the official best-of-N criterion (util/evaluation.py) -----------------------------------
def quantise_like_saved_png(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> 0..255 floats truncated as the official tensor2im + astype(uint8)."""
    return ((images.float().clamp(-1, 1) + 1) / 2 * 255).floor().double()


def official_criterion(truth: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """Per image L1 - PSNR + TV on 0..255 values (PSNR 100 when identical; TV wraps around)."""
    gt, out = quantise_like_saved_png(truth), quantise_like_saved_png(pred)
    l1 = (gt - out).abs().mean(dim=(-3, -2, -1))
    mse = (gt - out).pow(2).mean(dim=(-3, -2, -1))
    psnr = torch.where(mse == 0, torch.full_like(mse, 100.0), 20 * torch.log10(255.0 / mse.sqrt()))
    gx = out - out.roll(-1, dims=-1)
    gy = out - out.roll(-1, dims=-2)
    tv = (gx.pow(2) + gy.pow(2)).sqrt().mean(dim=(-3, -2, -1))
    return l1 - psnr + tv


# --- small context helpers -----------------------------------------------------------------
@contextlib.contextmanager
def evaluating(*nets: nn.Module) -> Iterator[None]:
    """Eval mode (spectral-norm vectors not updated) for the block, then the previous modes."""
    modes = [net.training for net in nets]
    for net in nets:
        net.eval()
    try:
        yield
    finally:
        for net, mode in zip(nets, modes):
            net.train(mode)


class PICNet(Method):
    """E, G, D, D_rec; optimisers "G" (G + E) and "D" (D + D_rec)."""

    watched_losses = ("app_rec",)  # the reconstruction path's L1 (bench.divergence)

    def __init__(self, spec: MethodSpec, options: dict):
        super().__init__()
        self.spec = spec
        self.samples: int = options["samples"]
        self.selection: str = options["selection"]
        self.gan_type: str = options["gan_type"]
        self.kl_weight = options["lambda_kl"] * OUTPUT_SCALES
        self.rec_weight = options["lambda_rec"]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(spec.seed)
            self.networks = {
                "E": init_like_official(Encoder()),
                "G": init_like_official(Generator()),
                "D": init_like_official(Discriminator(self._d_final_padding())),
                "D_rec": init_like_official(Discriminator(self._d_final_padding())),
            }
        # As in the official D, its attention never runs its fusion branch (alpha, model).
        self.unused_parameters = frozenset({"D", "D_rec"})
        net = self.networks
        adam = {"lr": options["lr"], "betas": options["betas"]}
        self.optimizers = {
            "G": torch.optim.Adam([*net["G"].parameters(), *net["E"].parameters()], **adam),
            "D": torch.optim.Adam([*net["D"].parameters(), *net["D_rec"].parameters()], **adam),
        }

    def _d_final_padding(self) -> int:
        # departure: below 96 px the D's last 3x3 conv is padded by 1 (unpadded it has no output).
        return 1 if self.spec.image_size // 2**LAYERS < 3 else 0

    # --- training ------------------------------------------------------------------------
    def _forward_two_paths(self, images: torch.Tensor, holes: torch.Tensor) -> dict:
        """One E forward on [I_m; I_c] and one G forward on [z_posterior; z_prior]."""
        E, G = self.replica("E"), self.replica("G")
        visible, img_m, img_c = picnet_inputs(images, holes)
        features, (p_mu, p_sigma), (q_mu, q_sigma) = E(img_m, img_c)
        top_m = features[-1].chunk(2)[0]
        # training noise: the global RNG (the trainer seeds it), as the official rsample
        z = torch.cat([Normal(p_mu, p_sigma).rsample(), Normal(q_mu, q_sigma).rsample()])
        visible_scales = pyramid(visible)
        outputs = G(
            z,
            top_m.repeat(2, 1, 1, 1),
            features[ATTENTION_STAGE].chunk(2)[0].repeat(2, 1, 1, 1),
            visible_scales[0].repeat(2, 1, 1, 1),
        )
        return {
            "visible": visible_scales,
            "truth": pyramid(images),
            "rec": [o.chunk(2)[0] for o in outputs],
            "gen": [o.chunk(2)[1] for o in outputs],
            "sigma_m": prior_sigma(visible),
            "posterior": (p_mu, p_sigma),
            "prior": (q_mu, q_sigma),
        }

    def _kl_losses(self, out: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """kl_rec = KL(N(0, sigma_m) || posterior); kl_g = KL(posterior.detach() || prior)."""
        p_mu, p_sigma = out["posterior"]
        fixed = Normal(torch.zeros_like(p_mu), out["sigma_m"] * torch.ones_like(p_sigma))
        posterior = Normal(p_mu, p_sigma)
        kl_rec = kl_divergence(fixed, posterior).mean()
        kl_g = kl_divergence(Normal(p_mu.detach(), p_sigma.detach()), Normal(*out["prior"])).mean()
        return kl_rec * self.kl_weight, kl_g * self.kl_weight

    def _appearance_losses(self, out: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Sum over scales of L1: whole image for rec, visible pixels only for gen."""
        app_rec = sum(F.l1_loss(r, t) for r, t in zip(out["rec"], out["truth"]))
        app_g = sum(
            F.l1_loss(g * v, t * v) for g, t, v in zip(out["gen"], out["truth"], out["visible"])
        )
        return app_rec * self.rec_weight, app_g * self.rec_weight

    def train_step(self, images: torch.Tensor, masks: torch.Tensor, step: int) -> dict[str, float]:
        del step  # constant learning rate (official niter_decay = 0)
        out = self._forward_two_paths(images, masks)
        real, gen, rec = images, out["gen"][-1], out["rec"][-1]

        D, D_rec = self.replica("D"), self.replica("D_rec")
        img_d = gan_d_loss(D(real), D(gen.detach()), self.gan_type)
        img_d_rec = gan_d_loss(D_rec(real), D_rec(rec.detach()), self.gan_type)
        self.optimize("D", img_d + img_d_rec)

        D, D_rec = self.networks["D"], self.networks["D_rec"]  # frozen: the modules themselves
        with frozen(D, D_rec):
            ad_g = gan_g_loss(D(gen), self.gan_type) * LAMBDA_G
            ad_rec = F.mse_loss(D_rec(rec), D_rec(real)) * LAMBDA_G
        kl_rec, kl_g = self._kl_losses(out)
        app_rec, app_g = self._appearance_losses(out)
        losses = {
            "kl_rec": kl_rec,
            "kl_g": kl_g,
            "app_rec": app_rec,
            "app_g": app_g,
            "ad_g": ad_g,
            "ad_rec": ad_rec,
        }
        self.optimize("G", sum(losses.values()))
        return {
            **{name: value.item() for name, value in losses.items()},
            "img_d": img_d.item(),
            "img_d_rec": img_d_rec.item(),
        }

    # --- test time -----------------------------------------------------------------------
    def inpaint(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """The first prior sample (candidate 0 of `inpaint_candidates`), whatever `selection`."""
        # departure: test time keeps the first prior sample; the official keeps the best of 50.
        return self.inpaint_candidates(images, masks, 1)[0]

    def inpaint_scored(self, images: torch.Tensor, masks: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
        """With selection 'best-of-N', the official oracle's pick among `samples` composites."""
        if self.selection != "best-of-N":
            return self.inpaint(images, masks)
        candidates = self.inpaint_candidates(images, masks, self.samples)
        composites = truth * (1 - masks) + candidates * masks
        return self.select_best(truth, composites)[0]

    @torch.no_grad()
    def inpaint_candidates(self, images: torch.Tensor, masks: torch.Tensor, n: int) -> torch.Tensor:
        """n completions per image from the prior, shape (n, N, 3, H, W), raw G output in [-1, 1].

        Candidate k of an image depends only on the seed, that image's visible pixels and its
        mask, never on the batch it came in nor its position there; candidate 0 is `inpaint`'s.
        """
        if n < 1:
            raise ValueError(f"picnet: inpaint_candidates needs n >= 1, got {n}")
        E, G = self.networks["E"], self.networks["G"]
        visible, img_m, _ = picnet_inputs(images, masks)
        with evaluating(E, G):
            features = E.features(img_m)
            mu, sigma = E.prior_of(features[-1])
            f_e = features[ATTENTION_STAGE]
            visible_small = resize(visible, f_e.shape[-2:])
            noise = self._inference_noise(img_m, masks, n, tuple(mu.shape[1:])).to(mu)
            return torch.stack(
                [G(mu + sigma * noise[k], features[-1], f_e, visible_small)[-1] for k in range(n)]
            )

    def _inference_noise(
        self, img_m: torch.Tensor, holes: torch.Tensor, n: int, latent: tuple[int, ...]
    ) -> torch.Tensor:
        """(n, N, *latent) standard normals, per image from a CPU generator seeded by spec.seed
        and a hash of that image's I_m and mask (so independent of batch order and size)."""
        # departure: inference noise comes from per-image seeded generators, not the global RNG.
        per_image = []
        for image, hole in zip(img_m, holes):
            digest = hashlib.blake2b(digest_size=8)
            digest.update(str(self.spec.seed).encode())
            digest.update(image.detach().float().cpu().contiguous().numpy().tobytes())
            digest.update(hole.detach().bool().cpu().contiguous().numpy().tobytes())
            seed = int.from_bytes(digest.digest(), "little") >> 1
            generator = torch.Generator().manual_seed(seed)
            per_image.append(torch.randn((n, *latent), generator=generator))
        return torch.stack(per_image, dim=1)

    @staticmethod
    def select_best(
        truth: torch.Tensor, candidates: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The official oracle: per image, the candidate minimising L1 - PSNR + TV vs `truth`.

        `truth`: N3HW; `candidates`: (n, N, 3, H, W) composites as they will be scored (the
        official script scores the saved composites). Returns (chosen N3HW, indices N); ties go
        to the lowest index, as the official strict '<'. Uses the ground truth: an oracle.
        """
        # departure: best-of-N scores the N samples at the run's size (official: 50, at 256 px).
        scores = torch.stack([official_criterion(truth, c) for c in candidates])  # n, N
        index = scores.argmin(dim=0).to(candidates.device)
        chosen = candidates[index, torch.arange(candidates.shape[1], device=candidates.device)]
        return chosen, index

    # --- released weights ---------------------------------------------------------------
    def releases(self) -> tuple[Release, ...]:
        return picnet_release.RELEASES

    def read_official(self, path: Path) -> OfficialWeights:
        return picnet_release.read_release(path, self.networks)

    def official_loaded(self, weights: OfficialWeights) -> None:
        """The one power step the authors' forward takes on the released E and G."""
        del weights
        # departure: released weights: one spectral-norm power step at load (the official forward's), then u, v fixed at test time.
        picnet_release.official_power_step({n: self.networks[n] for n in picnet_release.RELEASED_NETWORKS})

    # --- reporting -----------------------------------------------------------------------
    def protocol(self) -> dict[str, str]:
        return {
            "picnet_selection": self.selection,
            "picnet_samples": str(self.samples),
        }

    def departures(self) -> list[str]:
        found = [
            "u, v start one power step from random (the official's start random), so an eval-mode pass before training divides by a sensible sigma.",
            "inference noise comes from per-image seeded generators, not the global RNG.",
            f"selection rule ({self.selection}): {SELECTION_RULE[self.selection]}.",
        ]
        if self.selection == "first":
            found.append(
                "test time keeps the first prior sample; the official keeps the best of 50."
            )
        else:
            found.append(
                "best-of-N scores the N samples at the run's size (official: 50, at 256 px)."
            )
        if self.released is not None:
            found.append(picnet_release.POWER_STEP_DEPARTURE)
        if self._d_final_padding():
            found.append(
                "below 96 px the D's last 3x3 conv is padded by 1 (unpadded it has no output)."
            )
        if self.spec.image_size != 256:
            found.append(
                "the official 256-px networks (5 stages) also run at other sizes, latent side S/32."
            )
        return found


def _checked_options(options: dict) -> dict:
    checked = CheckedOptions("picnet", options, DEFAULTS)
    return {"samples": checked.integer("samples", 1), "selection": checked.choice("selection", SELECTIONS),
            "gan_type": checked.choice("gan_type", GAN_TYPES), "lr": checked.number("lr", positive=True),
            "lambda_kl": checked.number("lambda_kl"), "lambda_rec": checked.number("lambda_rec"),
            "betas": checked.betas("betas")}


def build(spec: MethodSpec) -> PICNet:
    """The registry's factory ("picnet" -> baselines.picnet.method:build)."""
    size = spec.image_size
    if size < 64 or size % 2**LAYERS:
        raise ValueError(f"picnet: image_size={size} is unsupported; need a multiple of 32, >= 64")
    # departure: the official 256-px networks (5 stages) also run at other sizes, latent side S/32.
    return PICNet(spec, _checked_options(dict(spec.options)))
