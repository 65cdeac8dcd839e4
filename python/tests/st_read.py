"""A reader of safetensors files written for these tests only (json + numpy, no project code), so
that the states the tests diff in memory come from the files independently of the C++ reader."""

import json
import pathlib
import struct

import ml_dtypes
import numpy as np

DTYPES = {
    "U8": np.uint8, "I8": np.int8, "BOOL": np.bool_, "F16": np.float16, "F32": np.float32, "F64": np.float64,
    "I16": np.int16, "I32": np.int32, "I64": np.int64, "U16": np.uint16, "U32": np.uint32, "U64": np.uint64,
    "BF16": ml_dtypes.bfloat16, "F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2,
}


def read(path):
    """(tensors as fresh in-memory numpy arrays, metadata)."""
    raw = pathlib.Path(path).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype=DTYPES[info["dtype"]]).reshape(info["shape"]).copy()
    return out, meta
