"""sentinel-lint: find and fix Triton kernel guards that disagree with how their index tensors are padded."""
__version__ = "0.1.0"
