"""What sentinel-lint knows about the analysed code: module facts, kernels, index flow, conventions."""
