"""FAKE tensorrt and pycuda modules for tests on machines without a GPU; named as fakes on purpose."""
