"""Training and probing: the paper's other axis, how well a network trains, not only what it costs.

train_specs(specs, data, configs, out, resume=False, threads=None, save_weights=None) -> run records
load_data(name) -> Data                 bundled ``digits``/``synthetic``, ``cifar10:PATH``, ``folder:PATH``
TrainConfig(steps, batch=128, lr=0.1, weight_decay=1e-4, schedule="step", warmup=0, seed=0)
probe(model, info, ...) -> rows          per-block activation scale, gradient norm and gradient correlation

See docs/training.md.
"""

from resgraph.data import Data, DataError, data_names, load_data
from resgraph.train.loop import TrainConfig
from resgraph.train.session import fit_to_data, train_specs

__all__ = ["Data", "DataError", "TrainConfig", "data_names", "fit_to_data", "load_data", "train_specs"]
