"""Training and evaluation data: an embedded synthetic face set, CelebA, image folders.

* :mod:`~pbgan.data.synthetic`: the procedural face set (parameters in
  :mod:`~pbgan.data.synthetic_params`, drawing in :mod:`~pbgan.data.synthetic_render`);
* :mod:`~pbgan.data.files`: CelebA folders and zips, image folders, preprocessing;
* :mod:`~pbgan.data.pipeline`: ``tf.data`` batches (:func:`make_dataset`) and uint8
  arrays for the SWD metric (:func:`real_images`).

Names are imported on first use, and only :mod:`~pbgan.data.pipeline` imports
TensorFlow, so the synthetic faces and the file readers load without it.
"""

from pbgan.lazy import lazy_exports

_HOME = {
    "CELEBA_CROP": "files",
    "CELEBA_IMAGE_SIZE": "files",
    "IMAGE_EXTENSIONS": "files",
    "MAX_DECODE_PIXELS": "files",
    "SYNTHETIC": "files",
    "DataError": "files",
    "SourceInfo": "files",
    "crop_box": "files",
    "describe_source": "files",
    "preprocess": "files",
    "make_dataset": "pipeline",
    "real_images": "pipeline",
    "SYNTHETIC_SEED": "synthetic",
    "synthetic_face": "synthetic",
    "synthetic_faces": "synthetic",
    "synthetic_faces_at": "synthetic",
}

__all__ = sorted(_HOME)
__getattr__ = lazy_exports(__name__, _HOME)
