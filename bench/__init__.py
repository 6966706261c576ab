"""inpaint-bench: reproduce and benchmark SRPNet beside PEN-Net, GLCIC and PIC-Net."""

__version__ = "0.1.0"
