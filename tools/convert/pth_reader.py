# SPDX-License-Identifier: GPL-3.0-or-later
"""Read PyTorch checkpoints (state dicts) as numpy arrays without PyTorch.

Two layouts exist: the zip archive of torch >= 1.6 (ARCHIVE/data.pkl + ARCHIVE/data/KEY raw storages)
and the legacy single stream of torch <= 1.5 (magic, protocol, sys_info pickles, the object pickle,
the list of storage keys, then each storage as int64 element count + raw bytes).  The published
CycleGAN/pix2pix and pytorch-AdaIN weights predate 1.6, so both are needed.

Pickles can run arbitrary code through find_class; the unpickler here resolves only the handful of
globals a state dict uses and refuses everything else."""
import collections
import io
import pickle
import struct
import zipfile

import numpy as np

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class CheckpointError(Exception):
    pass


class _StorageType:
    def __init__(self, name):
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _LazyTensor:
    """A tensor view of a storage whose bytes may only be known after unpickling (legacy)."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def resolve(self, storages):
        dtype, key = self.storage
        data = storages[key]
        if self.size and any(n == 0 for n in self.size):
            return np.zeros(self.size, dtype)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if self.offset < 0 or last >= data.size or any(s < 0 for s in self.stride):
            raise CheckpointError("tensor view outside its storage")
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.size, strides=[s * dtype.itemsize for s in self.stride])
        # a contiguous view is used as is (read-only, over the file's bytes): one copy less of the
        # weights, which matters for pix2pix's 218 MB
        return view if view.flags.c_contiguous else np.array(view, copy=True)


def _rebuild_tensor(storage, offset, size, stride, *unused):
    return _LazyTensor(storage, offset, size, stride)


def _rebuild_parameter(data, requires_grad, backward_hooks, *unused):
    return data


class _Unpickler(pickle.Unpickler):
    def __init__(self, stream, storage_dtypes):
        super().__init__(stream)
        self.storage_dtypes = storage_dtypes

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a checkpoint "
                                     "(only state dicts of tensors are read)")

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel[, view_metadata])
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage" or \
                not isinstance(pid[1], _StorageType):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r:.80}")
        key = str(pid[2])
        self.storage_dtypes[key] = (pid[1].dtype, int(pid[4]))
        return (pid[1].dtype, key)


def _resolve(obj, storages):
    if isinstance(obj, _LazyTensor):
        return obj.resolve(storages)
    if isinstance(obj, dict):
        out = collections.OrderedDict()
        for k, v in obj.items():
            out[k] = _resolve(v, storages)
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve(v, storages) for v in obj)
    return obj


def _load_zip(path):
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise CheckpointError(f"{path}: zip archive without one data.pkl (not a PyTorch checkpoint)")
        prefix = pkl[0][:-len("data.pkl")]
        dtypes = {}
        obj = _Unpickler(io.BytesIO(z.read(pkl[0])), dtypes).load()
        storages = {}
        for key, (dtype, numel) in dtypes.items():
            raw = z.read(f"{prefix}data/{key}")
            if len(raw) < numel * dtype.itemsize:
                raise CheckpointError(f"{path}: storage {key} is truncated")
            storages[key] = np.frombuffer(raw, dtype, numel)
    return _resolve(obj, storages)


def _load_legacy(path):
    with open(path, "rb") as f:
        def plain():
            return _Unpickler(f, {}).load()
        try:
            if plain() != _LEGACY_MAGIC:
                raise CheckpointError(f"{path}: not a PyTorch checkpoint (bad magic number)")
        except (pickle.UnpicklingError, EOFError, ValueError) as e:
            raise CheckpointError(f"{path}: not a PyTorch checkpoint ({e})") from e
        plain()  # protocol version
        plain()  # sys_info
        dtypes = {}
        obj = _Unpickler(f, dtypes).load()
        keys = plain()
        storages = {}
        for key in keys:
            key = str(key)
            dtype, numel = dtypes[key]
            head = f.read(8)
            if len(head) != 8:
                raise CheckpointError(f"{path}: truncated before storage {key}")
            (count,) = struct.unpack("<q", head)
            if count != numel:
                raise CheckpointError(f"{path}: storage {key} holds {count} elements, expected {numel}")
            raw = f.read(count * dtype.itemsize)
            if len(raw) != count * dtype.itemsize:
                raise CheckpointError(f"{path}: storage {key} is truncated")
            storages[key] = np.frombuffer(raw, dtype, count)
    return _resolve(obj, storages)


def is_checkpoint(path):
    with open(path, "rb") as f:
        head = f.read(4)
    return head == b"PK\x03\x04" or head[:1] == b"\x80"


def load_state_dict(path):
    """The checkpoint's state dict as an OrderedDict of name -> numpy array.  Checkpoints that wrap
    the state dict (e.g. {'state_dict': ...}) are unwrapped."""
    with open(path, "rb") as f:
        head = f.read(4)
    try:
        obj = _load_zip(path) if head == b"PK\x03\x04" else _load_legacy(path)
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, KeyError, ValueError) as e:
        raise CheckpointError(f"{path}: unreadable PyTorch checkpoint ({e})") from e
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: the checkpoint holds a {type(obj).__name__}, not a state dict")
    out = collections.OrderedDict()
    for k, v in obj.items():
        if isinstance(v, np.ndarray):
            out[str(k).removeprefix("module.")] = v
    return out
