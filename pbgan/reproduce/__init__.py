"""Reproduce the paper's tables and figures at any scale (``pbgan reproduce``).

For every scheme, setting and seed a GAN is trained at the main architecture (and at
each extra resolution for Fig. 12), evaluated by SWD and MS-SSIM against real images,
converted to an LCE flatbuffer and timed here (main runs; only ``xnor`` deploys as
binary ops). The output folder then holds::

    runs/<scheme>_<setting>_s<seed>/         main runs (Tables 3 and 4, Figs 5, 6, 8-10)
    runs/<scheme>_<setting>_<arch>_s<seed>/  extra resolutions (Fig. 12)
        ...                                  what `pbgan train` writes (history, curves)
        eval.json, eval_samples.png          SWD x1e3, MS-SSIM, the first samples
        generator.tflite, .json              main runs: the conversion and its manifest
        bench.json                           main runs: local latency, every configuration
    summaries/<run>/                         small summaries of runs (``--summaries-to``)
    generators/A_seed0.keras, ...            exported: the float A and xnor auto generators
    noise_floor_r<res>.json                  real-vs-real SWD and real MS-SSIM
    real_samples_r<res>.png                  the first real images of the evaluation set
    binarization_error.json                  the Fig. 2 experiment
    fig*.png, swd_per_level.png              the figures
    REPORT.md, report.json                   the report and every number in it

Every stage is cached: training resumes (``pbgan.train.run.train``); evaluation, noise
floor, conversion and benchmark results are JSON files keyed by what produced them; a
run whose summary (config, history, evaluation, last samples) is in the folder is reused
without its checkpoints. ``--jobs N`` trains N runs side by side, one core each. A
planned run not in the folder (or not trained to ``--epochs``) is never evaluated or
converted: the report lists it, marks its setting x scheme *not run* when no seed is
left, and gives every number with its count of seeds, so ``--no-train`` reports over
a reproduction done in batches.

Numbers over seeds are aggregated by :mod:`~pbgan.reproduce.stats` (mean, sample SD,
pooled SD), and the report's "which of the paper's inferences hold here" section states
an order only by its fixed rule (>= 3 seeds each, difference of means > 2 pooled SDs),
weighing MS-SSIM beside SWD (:mod:`~pbgan.reproduce.rules`).

The modules, in the order data flows through them:

=================  =================================================================
``plan``           options (:class:`ReproduceConfig`) and the runs they ask for
``summaries``      where a run is found; its small summary, exported and reused
``redundancy``     Table 1 (DoR per layer) and the Fig. 2 experiment
``stages``         train, evaluate, convert and bench one run
``pool``           ``--jobs``: training processes side by side, each on its own core
``runner``         :func:`run_reproduction`: every run, the figures, the report
``stats``          aggregation over seeds and the verdict rule
``records``        questions asked of the recorded runs; the model caption
``rules``          the paper's claims as rules on numbers over seeds
``figures``        Figs 5, 6, 8-10, 12 and SWD per level
``tables``         Tables 1, 3, 4 and the runs, in Markdown
``report``         ``REPORT.md`` from ``report.json``
``cli``            the ``pbgan reproduce`` command
=================  =================================================================

Names are imported on first use, so ``pbgan --help`` does not load TensorFlow.
"""

from pbgan.lazy import lazy_exports

_HOMES = {
    "CLOSE": "rules",
    "DISAGREE": "rules",
    "NOT_DECIDED": "rules",
    "RULES": "rules",
    "Rule": "rules",
    "inferences": "rules",
    "FIGURES": "figures",
    "plot_losses": "figures",
    "plot_samples": "figures",
    "plot_swd_levels": "figures",
    "plot_swd_vs_dor": "figures",
    "plot_swd_vs_resolution": "figures",
    "ReproduceConfig": "plan",
    "ReproduceError": "plan",
    "RunSpec": "plan",
    "plan_runs": "plan",
    "dor_tables": "redundancy",
    "render_report": "report",
    "export_reproduction": "runner",
    "run_reproduction": "runner",
    "Evidence": "stats",
    "SEEDS": "stats",
    "Spread": "stats",
    "VERDICT_RULE": "stats",
    "aggregate": "stats",
    "pooled_sd": "stats",
    "export_summaries": "summaries",
}

__all__ = sorted(_HOMES)


__getattr__ = lazy_exports(__name__, _HOMES)
