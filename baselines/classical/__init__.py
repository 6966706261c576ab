"""Training-free reference methods: OpenCV's Telea and Navier–Stokes, scikit-image's biharmonic
inpainting, and the known pixels' mean colour (the trivial floor)."""
