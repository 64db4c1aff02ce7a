"""pygan's first-party plugins. They are registered through entry points in setup.py, exactly as
a third-party distribution registers its own (see plugins/pygan-resnet for one)."""
