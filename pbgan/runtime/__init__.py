"""Deployment runtime: read flatbuffers, benchmark them here or on a device, report.

``flatbuffer`` reads a model without running it; ``local`` times it with the LCE and
TFLite interpreters on this machine; ``remote`` drives LCE's ``lce_benchmark_model``
over ssh (Raspberry Pi) or adb (Android); ``report`` writes the comparison (and flags
a thread count that loses to fewer threads); ``profile`` times each operator of a graph
at several thread counts. Submodules import their heavy dependencies lazily, so
importing this package is cheap.
"""
