"""TensorRT plans for the two towers: build on the device, key by device, run with pycuda.

Only the builder and the runtime touch tensorrt and pycuda, and they take the modules as arguments;
profiles, keys, version rules and buffer sizes are plain functions with their own tests. TensorRT does not
run on the machines this was written on: the code is exercised against a fake module, not verified.
"""
