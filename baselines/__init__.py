"""The baselines of the paper: PEN-Net, GLCIC and PIC-Net, each behind the Method seam."""
