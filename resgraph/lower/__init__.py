"""Lowering: IR graph -> torch.fx.GraphModule (torchvision names), inference passes, ONNX/TensorRT export."""

from resgraph.lower.fx import build_model, lower_graph
from resgraph.lower.inference import cast, fold_bn, to_channels_last
from resgraph.lower.init import init_weights
from resgraph.lower.ops import shortcut_a

__all__ = ["build_model", "cast", "fold_bn", "init_weights", "lower_graph", "shortcut_a", "to_channels_last"]
