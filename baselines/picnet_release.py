"""PIC-Net's released weights (lyndonzheng/Pluralistic-Inpainting): latest_net_E.pth + latest_net_G.pth.

The authors' `save_networks` saves `net.state_dict()` of the DataParallel-wrapped nets, so every
key starts with `module.`; their SpectralNorm wrapper (model/external_function.py) keeps a conv's
weight as `….module.weight_bar` with power-iteration vectors `weight_u`, `weight_v`.
"""

from __future__ import annotations

from bench.method import Release

DOWNLOAD = "https://github.com/lyndonzheng/Pluralistic-Inpainting#pretrained-models"
FILES = ("latest_net_E.pth", "latest_net_G.pth")
# README "Pretrained Models": one Google Drive folder per dataset and mask type.
RELEASES = tuple(
    Release(f"picnet-{dataset}-{masks}", dataset, FILES, f"{DOWNLOAD} ({link})")
    for dataset, masks, link in (
        ("celeba-hq", "center", "https://drive.google.com/open?id=1zQnFkRAtjGCorOd0Mj9tfdApcAPbs6Kw"),
        ("paris", "center", "https://drive.google.com/open?id=1s4zmYhJAdkRErivj3OuTPeQ5ECQtq35e"),
        ("places2", "center", "https://drive.google.com/open?id=1y8wE8wcIq8EMRzjgOE3Y_Bv4iPLW4RV3"),
        ("imagenet", "center", "https://drive.google.com/open?id=1iH60vWygjk2Gc9iyVAva45vz3meSeZPg"),
        ("celeba-hq", "random", "https://drive.google.com/open?id=1nLq-W7eAZErqsvB1Q8h1yQT_l7_kZBXT"),
        ("paris", "random", "https://drive.google.com/open?id=1D67Y1AtsMy_opysxtt06D7vZrDUKvDAm"),
        ("places2", "random", "https://drive.google.com/open?id=1L4NAHQqyEJ_ANt4SfEP1hdEVdGrteu4L"),
        ("imagenet", "random", "https://drive.google.com/open?id=1hS6D4gjOkvEOlAEOAKxCCzjhpCoddU2S"),
    )
)
