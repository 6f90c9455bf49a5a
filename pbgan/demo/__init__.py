"""The main job in one command (``pbgan demo``, run by ``make demo``).

On the built-in faces it trains a float generator and the deployable one, scores both
as deployed (their LCE flatbuffers), converts and times both, and writes one page about
those two models, with the full-width size and speed from random weights below it,
labelled as such. ``run.py`` does the work, ``page.py`` writes the page, ``cli.py`` is
the command.
"""
