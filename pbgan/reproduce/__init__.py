"""Reproduce the paper's tables and figures at any scale (``pbgan reproduce``).

For every scheme and setting a GAN is trained at the main architecture (and at each
extra resolution for Fig. 12), evaluated by SWD and MS-SSIM against real images, and,
for the deployable ``xnor`` scheme, converted to an LCE flatbuffer and timed here. The
output folder then holds::

    runs/<scheme>_<setting>/           main runs (Tables 3 and 4, Figs 5, 6, 8-10)
    runs/<scheme>_<setting>_<arch>/    extra resolutions (Fig. 12)
        ...                            what `pbgan train` writes (history, loss_curves.png)
        eval.json, eval_samples.png    SWD x1e3, MS-SSIM, the first generated samples
        generator.tflite, .json        xnor main runs: the conversion and its manifest
        bench.json                     xnor main runs: local latency, every configuration
    noise_floor_r<res>.json            real-vs-real SWD and real MS-SSIM per resolution
    real_samples_r<res>.png            the first real images of the evaluation set
    binarization_error.json            the Fig. 2 experiment
    fig*.png                           the figures
    REPORT.md, report.json             the report and every number in it

Every stage is cached: training resumes (``pbgan.train.run.train``), and evaluation,
noise floor, conversion and benchmark results are JSON files keyed by what produced
them (data, ``n``, seed, epochs trained, bench runs), so rerunning the same command only
redoes what is missing or stale. A run whose training stopped on a non-finite loss is
resumed from its last good epoch on the next invocation.

The report's "which of the paper's inferences hold here" section is computed from the
measured numbers by the rules in :func:`inferences` and the same rules are applied to the
paper's own Table 3 values, so a reader sees both what is claimed and what was measured.

The modules, in the order data flows through them:

=================  =================================================================
``plan``           options (:class:`ReproduceConfig`) and the runs they ask for
``cache``          finished work, keyed by what produced it
``redundancy``     Table 1 (DoR per layer) and the Fig. 2 experiment
``stages``         train, evaluate, convert and bench one run
``runner``         :func:`run_reproduction`: every run, the figures, the report
``records``        questions asked of the recorded runs
``rules``          the paper's claims as rules on numbers
``figures``        Figs 5, 6, 8-10 and 12
``report``         ``REPORT.md`` from ``report.json``
``cli``            the ``pbgan reproduce`` command
=================  =================================================================

Names are imported on first use, so ``pbgan --help`` does not load TensorFlow.
"""

import importlib

_HOMES = {
    "CLOSE": "rules",
    "RULES": "rules",
    "WITHIN_NOISE": "rules",
    "Rule": "rules",
    "inferences": "rules",
    "FIGURES": "figures",
    "plot_g_loss": "figures",
    "plot_samples": "figures",
    "plot_swd_vs_dor": "figures",
    "plot_swd_vs_resolution": "figures",
    "ReproduceConfig": "plan",
    "ReproduceError": "plan",
    "RunSpec": "plan",
    "plan_runs": "plan",
    "dor_tables": "redundancy",
    "render_report": "report",
    "run_reproduction": "runner",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(f"pbgan.reproduce.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'pbgan.reproduce' has no attribute {name!r}")
