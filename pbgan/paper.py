"""The paper's published numbers, declared once (Liu et al., arXiv 1802.09153).

Everything that compares a measurement with the paper (warnings, the reproduction's
tables and figures, reports) reads them from here.
"""

from __future__ import annotations

__all__ = [
    "TABLE1_DOR",
    "TABLE3_SWD",
    "TABLE4_F_INFERENCE_SPEEDUP",
    "TABLE4_F_MEMORY_RATIO",
    "TABLE4_F_TRAINING_SPEEDUP",
    "G_VS_A_SWD_RATIO",
]

# Table 1: degree of redundancy of the four deconvolutions of the Radford DCGAN (64x64).
TABLE1_DOR = {"deconv1": 1008, "deconv2": 448, "deconv3": 0, "deconv4": -896}

# Table 3: average SWD x1e3 on CelebA 64x64 (G has no entry in the first version).
TABLE3_SWD = {"A": 44, "B": 38, "C": 45, "D": 67, "E": 449, "F": 67, "H": 34}

# The later version: binarizing every layer (G) is this many times worse than A.
G_VS_A_SWD_RATIO = 2.83

# Table 4, setting F against the float model: memory 1/25.81, inference 1.96x faster,
# training 1.32x faster.
TABLE4_F_MEMORY_RATIO = 25.81
TABLE4_F_INFERENCE_SPEEDUP = 1.96
TABLE4_F_TRAINING_SPEEDUP = 1.32
