"""SRPNet and the network parts it shares with PEN-Net."""
