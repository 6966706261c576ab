"""GLCIC's released completion networks (satoshiiizuka/siggraph2017_inpainting), Torch7 files.

Each .t7 holds {model = nn.Sequential of SpatialConvolution / SpatialDilatedConvolution /
SpatialFullConvolution / SpatialBatchNormalization / ReLU / Sigmoid, mean = 3 floats}.
"""

from __future__ import annotations

from bench.method import Release

DOWNLOAD = "https://github.com/satoshiiizuka/siggraph2017_inpainting (download_model.sh)"
# download_model.sh fetches each from http://iizuka.cs.tsukuba.ac.jp/data/<file>.
RELEASES = (
    Release("glcic-places2", "places2", ("completionnet_places2.t7",), DOWNLOAD),
    Release("glcic-places2-freeform", "places2", ("completionnet_places2_freeform.t7",), DOWNLOAD),
    Release("glcic-celeba", "celeba", ("completionnet_celeba.t7",), DOWNLOAD),
)
