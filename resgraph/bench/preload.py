"""Imported once by the forkserver that starts isolated rows: the imports every row needs, paid once.

Only imports: no torch op runs here, so no OpenMP pool or CUDA context is forked into a row.
TensorRT is left to the rows that use it (its import may start CUDA).
"""

import contextlib

import torch  # noqa: F401 - imported to preload it
import torch.nn  # noqa: F401 - imported to preload it

import resgraph.bench.task  # noqa: F401 - imported to preload it
import resgraph.entries  # noqa: F401 - imported to preload it
import resgraph.lower  # noqa: F401 - imported to preload it

with contextlib.suppress(Exception):  # optional; environment() records their versions on every row
    import torchvision  # noqa: F401  (pulls in torch._dynamo: 1-2 s that a row would pay again)
with contextlib.suppress(Exception):
    import onnxruntime  # noqa: F401 - imported to preload it
