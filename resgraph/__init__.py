"""resgraph: ResNet spec -> graph -> PyTorch -> benchmarks."""
