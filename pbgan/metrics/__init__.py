"""Quality metrics: SWD (Karras et al. 2017), sample diversity (MS-SSIM), and the
binarization-error experiment behind the degree of redundancy.

``swd`` and ``binarization_error`` need only numpy; ``ms_ssim_diversity`` imports
TensorFlow when it is called, so importing this package stays cheap.
"""

from pbgan.metrics.binarization_error import (
    binarization_error,
    deconv2d,
    format_binarization_table,
    layer_binarization_errors,
    plot_binarization_error,
    run_binarization_experiment,
)
from pbgan.metrics.diversity import ms_ssim_diversity, ms_ssim_power_factors
from pbgan.metrics.swd import (
    extract_descriptors,
    gaussian_pyramid,
    laplacian_pyramid,
    normalize_descriptors,
    pyramid_resolutions,
    reconstruct_laplacian,
    sliced_wasserstein,
    swd,
    to_uint8,
)

__all__ = [
    "binarization_error",
    "deconv2d",
    "extract_descriptors",
    "format_binarization_table",
    "gaussian_pyramid",
    "laplacian_pyramid",
    "layer_binarization_errors",
    "ms_ssim_diversity",
    "ms_ssim_power_factors",
    "normalize_descriptors",
    "plot_binarization_error",
    "pyramid_resolutions",
    "reconstruct_laplacian",
    "run_binarization_experiment",
    "sliced_wasserstein",
    "swd",
    "to_uint8",
]
