"""PIC-Net, pluralistic image completion (Zheng et al., CVPR 2019): `method` (the Method, both
training paths and the test protocol), `networks` (E, G, D) and `release` (the authors'
latest_net_E/G.pth)."""
