"""The PyTorch side of sftkit: `sft train --engine torch` runs train.py."""
