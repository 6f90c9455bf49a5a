"""Inference forms of the binary layers, A/B: the phase layers' per-phase form and the
projection's per-position form against their training forms, same weights, one process.

    python benchmarks/phase_forms.py [--setting auto] [--rounds 30]

dcgan64 at full width, xnor, random init (seed of Keras' default initializers), batch 1,
1 thread, LCE's interpreter with indirect-BGEMM bconv kernels. Rounds alternate the two
flatbuffers (10 inferences each); prints sizes, the largest output difference and the
fastest and median round per inference.
"""

from __future__ import annotations

import argparse
from functools import partial

import pbgan  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from pbgan.convert.core import convert_generator
from pbgan.interpreters import lce_interpreter
from pbgan.layers import PhaseConv2DTranspose, Projection
from pbgan.models import build_generator
from pbgan.runtime.local import time_alternating

import numpy as np


def use_training_forms() -> None:
    """Make generators built from now on convert with the layers' training forms."""
    proj_call = Projection.call
    PhaseConv2DTranspose._exact_possible = staticmethod(lambda gh, gw: False)
    PhaseConv2DTranspose.converted_convolutions = lambda self, s=None: len(self._phase_convs())
    Projection.call = lambda self, x, training=None: proj_call(self, x, training=True)
    Projection.converted_convolutions = lambda self, s=None: 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", default="auto")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    kw = dict(resolution=64, width=1.0, setting=args.setting, scheme="xnor")
    gen = build_generator(**kw)
    new = convert_generator(gen, setting=args.setting).flatbuffer
    use_training_forms()
    old_gen = build_generator(**kw)
    old_gen.set_weights(gen.get_weights())
    old = convert_generator(old_gen, setting=args.setting).flatbuffer
    z = [np.random.default_rng(0).normal(size=(1, 100)).astype("float32")]
    its = {
        "training forms": lce_interpreter(old, threads=1, config="lce-indirect-bgemm"),
        "inference forms": lce_interpreter(new, threads=1, config="lce-indirect-bgemm"),
    }
    diff = np.abs(its["training forms"].predict(z)[0] - its["inference forms"].predict(z)[0])
    print(
        f"sizes: training forms {len(old)} B, inference forms {len(new)} B; max diff {diff.max()}"
    )
    calls = {k: partial(it.predict, z) for k, it in its.items()}
    for k, v in time_alternating(calls, rounds=args.rounds).items():
        print(f"{k}: fastest {min(v):.2f} ms, median {np.median(v):.2f} ms")


if __name__ == "__main__":
    main()
