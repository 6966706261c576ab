"""Datasets and masks: where the harness's images and holes come from."""
