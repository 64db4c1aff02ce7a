"""Kernel benchmarks behind `pygan bench`: pygan's fused ops against eager PyTorch (textbook
and numerically stable) and torch.compile, side by side in one run."""
