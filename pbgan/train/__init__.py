"""GAN training: the GAN as a keras.Model, resumable runs, samples and plots."""

from pbgan.train.gan import GAN
from pbgan.train.run import RunError, TrainConfig, TrainResult, load_run_config, train

__all__ = ["GAN", "RunError", "TrainConfig", "TrainResult", "load_run_config", "train"]
