"""GLCIC (Iizuka et al., SIGGRAPH 2017): `method` (the Method and its training phases),
`networks` (completion network and context discriminators), `postprocess` (fast marching +
Poisson blending) and `release` (the authors' Torch7 completion networks)."""
