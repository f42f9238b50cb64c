"""Design spaces as files, and searching one under a latency budget.

A space file (:mod:`resgraph.search.space`) names a base spec and the choices a search may make
around it; :mod:`resgraph.search.sample` turns one set of choices into a spec validated like any
spec file; :mod:`resgraph.search.study` explores the space with Optuna, scoring each trial by the
latency model's prediction and an objective (:mod:`resgraph.search.score`); :mod:`resgraph.search.verify`
measures the best front points with the bench harness; :mod:`resgraph.search.front` and
:mod:`resgraph.search.report` write what was found. The ``train`` objective
(:mod:`resgraph.search.train_objective`) trains each trial briefly, here or on Dask workers
(:mod:`resgraph.search.pool`). Torch-free up to the probe and train objectives and verify.
"""
