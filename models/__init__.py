"""SRPNet and the network parts it shares with PEN-Net.

encoder.py (pyramid encoder, residual blocks), attention.py (attention transfer), decoder.py
(decoder stages and RGB outputs), generator.py (the assembled pyramid-context generator),
discriminators.py + local_crop.py (PEN-Net's patch critic, SRPNet's global + local critics),
losses.py and schedule.py (PEN-Net's losses and per-dataset settings), initialization.py, and
srpnet.py (the Method behind the registry's srpnet entries; baselines/pennet.py reuses it).
"""
