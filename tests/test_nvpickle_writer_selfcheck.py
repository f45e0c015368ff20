"""Self-checks of the synthetic NVIDIA-pickle writer against FORMATS.md facts (no NVIDIA code, no torch).

The files are parsed here with pickletools and with a small inert unpickler written for this test (it maps
the documented globals to plain-Python stand-ins and refuses everything else), independently of the writer
and of latentwalk's loader.
"""

from __future__ import annotations

import ast
import codecs
import collections
import io
import math
import pathlib
import pickle
import pickletools
import struct
from typing import Any

import numpy as np
import pytest

import nvpickle_writer as nw
import sg2_reference as ref

try:
    import numpy._core.multiarray as _np_multiarray
except ImportError:  # numpy 1.x
    import numpy.core.multiarray as _np_multiarray

HERE = pathlib.Path(__file__).parent
MAGIC = 0x1950A86A20F9469CFC6C

# ---------------------------------------------------------------------------------------------------------
# Test-side inert parser
# ---------------------------------------------------------------------------------------------------------


class PObj:
    def __init__(self, meta: dict[str, Any]) -> None:
        self.meta = meta
        self.state = meta["state"]


class EasyDictStub(dict):  # type: ignore[type-arg]
    pass


class TFNetworkStub:
    pass


def _parse_blob(blob: bytes) -> np.ndarray:
    f = io.BytesIO(blob)
    magic = _BlobUnpickler(f).load()
    assert magic == MAGIC
    assert _BlobUnpickler(f).load() == 1001
    sys_info = _BlobUnpickler(f).load()
    assert sys_info["protocol_version"] == 1001 and sys_info["little_endian"] is True
    record = _BlobUnpickler(f).load()
    assert record[0] == "storage" and record[1] == "FloatStorage" and record[3] == "cpu" and record[5] is None
    keys = _BlobUnpickler(f).load()
    assert keys == [record[2]]
    (count,) = struct.unpack("<q", f.read(8))
    assert count == record[4]
    data = f.read()
    assert len(data) == 4 * count
    return np.frombuffer(data, dtype="<f4")


class _BlobUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch", "FloatStorage"):
            return "FloatStorage"
        raise pickle.UnpicklingError(f"global {module}.{name} in a storage blob")

    def persistent_load(self, pid: Any) -> Any:
        return pid


def _rebuild_tensor_v2(storage: np.ndarray, offset: int, size: tuple, stride: tuple, rg: bool, hooks: Any):
    assert rg is False and isinstance(hooks, collections.OrderedDict) and not hooks
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size, strides=[4 * s for s in stride])
    return view.copy()


def _rebuild_parameter(t: np.ndarray, rg: bool, hooks: Any) -> np.ndarray:
    assert rg is False and isinstance(hooks, collections.OrderedDict) and not hooks
    return t


INERT = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): PObj,
    ("dnnlib.util", "EasyDict"): EasyDictStub,
    ("dnnlib.tflib.network", "Network"): TFNetworkStub,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _parse_blob,
    ("numpy.core.multiarray", "scalar"): _np_multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): _np_multiarray.scalar,
    ("numpy.core.multiarray", "_reconstruct"): _np_multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _np_multiarray._reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("builtins", "set"): set,
    ("__builtin__", "set"): set,
    ("_codecs", "encode"): codecs.encode,
}


class InertUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return INERT[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing global {module}.{name}") from None


def inert_load(data: bytes) -> Any:
    return InertUnpickler(io.BytesIO(data)).load()


def walk_state(obj: PObj, prefix: str = "") -> list[tuple[str, np.ndarray]]:
    out: list[tuple[str, np.ndarray]] = []
    for container in ("_parameters", "_buffers"):
        for name, value in obj.state[container].items():
            if value is not None:
                out.append((prefix + name, value))
    for name, child in obj.state["_modules"].items():
        out += walk_state(child, prefix + name + ".")
    return out


def all_objects(obj: PObj, path: str = "") -> list[tuple[str, PObj]]:
    out = [(path, obj)]
    for name, child in obj.state["_modules"].items():
        out += all_objects(child, f"{path}.{name}" if path else name)
    return out


def opcode_globals(data: bytes) -> set[tuple[str, str]]:
    return set(nw.pickle_globals(data))


# ---------------------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3, 4])
@pytest.mark.parametrize("family", ["stylegan3", "ada"])
def test_only_documented_globals(protocol: int, family: str) -> None:
    g, _ = nw.build_stylegan2(family=family, c_dim=3, architecture="resnet", img_resolution=8)
    data = nw.dumps_network_pickle(g, protocol=protocol, G_same_as_G_ema=True)
    found = opcode_globals(data)
    documented = {
        ("torch_utils.persistence", "_reconstruct_persistent_obj"),
        ("dnnlib.util", "EasyDict"),
        ("collections", "OrderedDict"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_parameter"),
        ("torch.storage", "_load_from_bytes"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy", "dtype"),
    }
    # CPython's pickler spells an empty set / bytes with extra globals below protocol 4 / 3.
    extra = {4: set(), 3: {("builtins", "set")}, 2: {("__builtin__", "set"), ("_codecs", "encode")}}[protocol]
    assert found == documented | extra
    assert pickletools.genops(data).__next__()[1] == protocol  # PROTO opcode
    if protocol >= 3:  # bytes are real bytes: look inside every blob
        blobs = list(nw.iter_blobs(data))
        assert blobs
        for blob in blobs:
            f = io.BytesIO(blob)
            inner = set()
            for _ in range(5):  # magic, protocol version, sys info, storage record, keys
                inner |= {
                    arg for op, arg, _ in pickletools.genops(f) if "GLOBAL" in op.name or op.name == "INST"
                }
            assert inner == {"torch FloatStorage"}


def test_numpy_core_spelling_option() -> None:
    g, _ = nw.build_stylegan2()
    found = opcode_globals(nw.dumps_network_pickle(g, numpy_core_spelling="numpy._core"))
    assert ("numpy._core.multiarray", "scalar") in found
    assert not any(m.startswith("numpy.core") for m, _ in found)


def test_meta_dicts_and_shared_module_src() -> None:
    g, _ = nw.build_stylegan2(family="stylegan3")
    data = nw.dumps_network_pickle(g)
    # The source text is one memoised string even though G, G_ema and D all use it.
    assert data.count(g.module_src.encode()) == 1
    top = inert_load(data)
    assert list(top) == ["G", "D", "G_ema", "augment_pipe", "training_set_kwargs"]
    G = top["G_ema"]
    for path, obj in all_objects(G):
        assert list(obj.meta) == ["type", "version", "module_src", "class_name", "state"], path
        assert obj.meta["type"] == "class" and obj.meta["version"] == 6
        assert obj.meta["module_src"] is G.meta["module_src"]
        st = obj.state
        assert st["training"] is False
        assert type(st["_parameters"]) is dict and type(st["_modules"]) is dict
        assert isinstance(st["_forward_hooks"], collections.OrderedDict)
        assert st["_non_persistent_buffers_set"] == set()
        assert list(st)[-2:] == ["_init_args", "_init_kwargs"]
    assert G.meta["class_name"] == "Generator"
    assert G.state["_init_args"] == ()
    assert isinstance(G.state["_init_kwargs"]["mapping_kwargs"], EasyDictStub)
    layer = G.state["_modules"]["synthesis"].state["_modules"]["b8"].state["_modules"]["conv0"]
    assert layer.meta["class_name"] == "SynthesisLayer"
    assert layer.state["_init_args"] == (32, 32)  # NVIDIA passes in/out channels positionally
    assert type(layer.state["act_gain"]) is np.float64 and layer.state["act_gain"] == np.sqrt(2)
    assert layer.state["up"] == 2 and layer.state["padding"] == 1
    fc = G.state["_modules"]["mapping"].state["_modules"]["fc0"]
    assert type(fc.state["weight_gain"]) is np.float64
    assert fc.state["weight_gain"] == pytest.approx(0.01 / math.sqrt(8))
    assert fc.state["bias_gain"] == 0.01
    assert isinstance(top["D"], PObj) and top["D"].meta["class_name"] == "Discriminator"
    assert top["augment_pipe"].meta["class_name"] == "AugmentPipe"
    assert top["G"] is not G and isinstance(top["training_set_kwargs"], dict)


@pytest.mark.parametrize("family", ["stylegan3", "ada"])
@pytest.mark.parametrize("torch_style", ["1", "2"])
def test_state_dict_order_and_values(family: str, torch_style: str) -> None:
    g, sd = nw.build_stylegan2(family=family, c_dim=4, torch_style=torch_style, seed=7)
    top = inert_load(nw.dumps_network_pickle(g, protocol=3, G_same_as_G_ema=True, augment_pipe=False))
    if family == "ada":
        assert list(top) == ["training_set_kwargs", "G", "D", "G_ema", "augment_pipe"]
    names = [n for n, _ in walk_state(top["G_ema"])]
    assert names == list(sd)
    first_mapping = next(i for i, n in enumerate(names) if n.startswith("mapping."))
    assert all(n.startswith("synthesis.") for n in names[:first_mapping])
    assert all(n.startswith("mapping.") for n in names[first_mapping:])
    assert names[:4] == [
        "synthesis.b4.const",
        "synthesis.b4.resample_filter",
        "synthesis.b4.conv1.weight",
        "synthesis.b4.conv1.noise_strength",
    ]
    for name, value in walk_state(top["G_ema"]):
        np.testing.assert_array_equal(value, sd[name], err_msg=name)
    assert sd["synthesis.b4.conv1.noise_strength"].shape == ()
    if torch_style == "1":
        assert isinstance(top["G_ema"].state["_parameters"], collections.OrderedDict)
        assert "_forward_hooks_with_kwargs" not in top["G_ema"].state


@pytest.mark.parametrize("res", [4, 8, 16, 32, 64])
def test_num_ws(res: int) -> None:
    g, sd = nw.build_stylegan2(img_resolution=res, channel_base=64, channel_max=8, w_dim=8)
    expected = 2 * int(math.log2(res)) - 2
    syn = g.get("synthesis")
    assert g.state["num_ws"] == syn.state["num_ws"] == g.get("mapping").state["num_ws"] == expected
    blocks = [syn.modules[f"b{r}"] for r in syn.state["block_resolutions"]]
    assert syn.state["block_resolutions"] == [2**i for i in range(2, int(math.log2(res)) + 1)]
    assert sum(b.state["num_conv"] for b in blocks) + blocks[-1].state["num_torgb"] == expected
    assert f"synthesis.b{res}.torgb.weight" in sd


def test_blob_layout() -> None:
    g, sd = nw.build_stylegan2(seed=3)
    data = nw.dumps_network_pickle(g, include_D=False, include_G=False, augment_pipe=False)
    blobs = list(nw.iter_blobs(data))
    assert len(blobs) == len(sd)
    seen_keys = set()
    for blob, (name, value) in zip(blobs, sd.items(), strict=True):
        f = io.BytesIO(blob)
        ops = [list(pickletools.genops(f)) for _ in range(5)]
        assert [op[0].name for op in ops[0]] == ["PROTO", "LONG1", "STOP"] and ops[0][1][1] == MAGIC
        assert ops[0][0][1] == 2
        assert [op[0].name for op in ops[1]] == ["PROTO", "BININT2", "STOP"] and ops[1][1][1] == 1001
        names = [op[0].name for op in ops[3]]
        assert "BINPERSID" in names and ("GLOBAL", "torch FloatStorage") in [
            (o[0].name, o[1]) for o in ops[3]
        ]
        strings = [o[1] for o in ops[3] if o[0].name == "BINUNICODE"]
        assert strings[0] == "storage" and strings[2] == "cpu" and strings[1].isdigit()
        seen_keys.add(strings[1])
        (count,) = struct.unpack("<q", f.read(8))
        assert count == value.size
        raw = f.read()
        assert raw == np.ascontiguousarray(value, dtype="<f4").tobytes(), name
        np.testing.assert_array_equal(_parse_blob(blob).reshape(value.shape), value)
    assert len(seen_keys) == len(sd)


def test_perturb_gives_constant_inits_random_values() -> None:
    _, sd = nw.build_stylegan2(seed=1, c_dim=2)
    for name, value in sd.items():
        if name.endswith((".bias", "noise_strength", "w_avg")) and ".affine." not in name:
            assert np.all(value != 0), name
        if name.endswith(".affine.bias"):
            assert not np.allclose(value, 1), name
    _, plain = nw.build_stylegan2(seed=1, c_dim=2, perturb=False)
    assert np.all(plain["mapping.w_avg"] == 0) and np.all(plain["synthesis.b8.conv0.affine.bias"] == 1)
    assert np.all(plain["synthesis.b8.conv0.noise_strength"] == 0) and np.all(plain["mapping.fc0.bias"] == 0)
    k = np.array([1, 3, 3, 1], dtype=np.float32)
    np.testing.assert_allclose(sd["synthesis.b8.resample_filter"], np.outer(k, k) / 64)


def test_family_specific_attributes() -> None:
    g3, _ = nw.build_stylegan2(family="stylegan3")
    ga, _ = nw.build_stylegan2(family="ada")
    assert "fused_modconv_default" in g3.get("synthesis.b8").state
    assert "fused_modconv_default" not in ga.get("synthesis.b8").state
    assert "in_features" in g3.get("mapping.fc0").state and "in_features" not in ga.get("mapping.fc0").state
    assert (
        "synthesis_kwargs" in ga.state["_init_kwargs"] and "synthesis_kwargs" not in g3.state["_init_kwargs"]
    )
    gr, sd = nw.build_stylegan2(architecture="resnet")
    skip = gr.get("synthesis.b8.skip")
    assert (
        skip.class_name == "Conv2dLayer"
        and list(skip.parameters) == ["weight"]
        and skip.state["bias"] is None
    )
    assert "synthesis.b8.skip.weight" in sd and "synthesis.b8.torgb.weight" not in sd
    go, sd = nw.build_stylegan2(architecture="orig")
    assert "synthesis.b8.torgb.weight" not in sd and "synthesis.b16.torgb.weight" in sd


def test_channels_last_weights_have_nhwc_strides() -> None:
    g, sd = nw.build_stylegan2(num_fp16_res=1, fp16_channels_last=True, seed=2)
    top = inert_load(nw.dumps_network_pickle(g))
    assert g.get("synthesis.b16").state["channels_last"] is True
    assert g.get("synthesis.b8").state["channels_last"] is False
    got = dict(walk_state(top["G_ema"]))
    np.testing.assert_array_equal(got["synthesis.b16.conv1.weight"], sd["synthesis.b16.conv1.weight"])
    w = g.get("synthesis.b16.conv1").parameters["weight"]
    o, i, kh, kw = w.data.shape
    assert w.stride == (kh * kw * i, 1, kw * i, i)


# -- hostile files -----------------------------------------------------------------------------------------


class NaiveUnpickler(pickle.Unpickler):
    """What a careless loader does: NVIDIA's names get harmless stand-ins, every other global is honoured,
    the module source is exec()'d like NVIDIA's persistence module does, storage blobs are unpickled too."""

    _compiled: dict[str, Any] = {}

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        if key == ("torch_utils.persistence", "_reconstruct_persistent_obj"):
            return self._reconstruct
        if key == ("torch.storage", "_load_from_bytes"):
            return self._load_from_bytes
        if key in INERT:
            return INERT[key] if module != "torch._utils" else (lambda *args: None)
        if module == "torch":
            return name
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        return pid

    @classmethod
    def _reconstruct(cls, meta: dict[str, Any]) -> dict[str, Any]:
        src = meta["module_src"]
        code = cls._compiled.get(src)
        if code is None:
            code = cls._compiled[src] = compile(src, "<module_src>", "exec")
        exec(code, {"__name__": "_imported_module_naive"})
        return meta

    @staticmethod
    def _load_from_bytes(blob: bytes) -> None:
        f = io.BytesIO(blob)
        for _ in range(5):
            NaiveUnpickler(f).load()


def test_hostile_files_fire_under_a_naive_loader(tmp_path: pathlib.Path) -> None:
    sentinel = tmp_path / "SENTINEL"
    files = nw.hostile_pickles(sentinel)
    assert len(files) >= 8
    for name, data in files.items():
        assert b"G_ema" in data and b"Generator" in data, name
        if name in nw.HOSTILE_REQUIRES:
            continue
        sentinel.unlink(missing_ok=True)
        try:
            NaiveUnpickler(io.BytesIO(data)).load()
        except Exception:  # noqa: BLE001 - the naive loader may crash after the payload ran
            pass
        assert sentinel.exists(), f"hostile file {name!r} did not fire under a naive loader"
        # ...and the inert parser refuses it instead of running anything.
        sentinel.unlink()
        try:
            inert_load(data)
        except (pickle.UnpicklingError, AssertionError, TypeError, ValueError):
            pass
        assert not sentinel.exists()


# -- broken files ------------------------------------------------------------------------------------------


def test_broken_files() -> None:
    files = nw.broken_pickles()
    with pytest.raises(ValueError):
        list(pickletools.genops(files["truncated"]))
    assert files["not_a_pickle_png"].startswith(b"\x89PNG\r\n\x1a\n")
    assert files["empty_file"] == b""

    def blob_counts(data: bytes) -> list[tuple[int, int]]:
        out = []
        for blob in nw.iter_blobs(data):
            parts = nw.split_blob(blob)
            numel = [a for n, a in parts["pickles"][3] if n in ("BININT", "BININT1", "BININT2", "LONG1")][0]
            out.append((numel, parts["count"]))
        return out

    assert (10**12, 10**12) in blob_counts(files["storage_numel_1e12"])
    assert any(c == 10**12 for _, c in blob_counts(files["storage_count_1e12"]))
    magics = [nw.split_blob(b)["pickles"][0][1][1] for b in nw.iter_blobs(files["storage_bad_magic"])]
    assert any(m != MAGIC for m in magics)

    assert "mapping" not in inert_load(files["missing_mapping"])["G_ema"].state["_modules"]
    sg3 = inert_load(files["sg3_missing_up_filter"])["G_ema"].state["_modules"]["synthesis"]
    assert sg3.state["layer_names"] and sg3.state["_modules"]["input"].meta["class_name"] == "SynthesisInput"
    assert sg3.state["_modules"]["input"].state["size"].dtype == np.int64

    tf = files["tensorflow_pickle"]
    assert ("dnnlib.tflib.network", "Network") in opcode_globals(tf)
    assert not any(m.startswith(("torch", "torch_utils")) for m, _ in opcode_globals(tf))
    nets = inert_load(tf)
    assert isinstance(nets, tuple) and len(nets) == 3 and all(isinstance(n, TFNetworkStub) for n in nets)
    assert list(vars(nets[2])) == [
        "version",
        "name",
        "static_kwargs",
        "components",
        "build_module_src",
        "build_func_name",
        "variables",
    ]
    assert (
        nets[2].version == 4 and nets[2].name == "Gs" and set(nets[2].components) == {"synthesis", "mapping"}
    )
    with pytest.raises(AssertionError):
        inert_load(files["storage_bad_magic"])


# -- hygiene and the reference -----------------------------------------------------------------------------


def test_helpers_import_nothing_forbidden() -> None:
    for fname in ("nvpickle_writer.py", "sg2_reference.py"):
        tree = ast.parse((HERE / fname).read_text())
        mods = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                mods.add(node.module.split(".")[0])
        assert not mods & {"torch", "latentwalk", "torch_utils", "dnnlib", "legacy", "training"}, fname


def test_reference_render_smoke() -> None:
    g, sd = nw.build_stylegan2(img_resolution=8, seed=5)
    kw: dict[str, Any] = dict(
        c=None,
        cutoff=None,
        noise_mode="const",
        num_ws=g.state["num_ws"],
        mapping_layers=2,
        architecture="skip",
        conv_clamp=None,
        img_resolution=8,
    )
    z = np.random.RandomState(0).randn(2, 8)
    img = ref.reference_render(sd, z=z, psi=1.0, **kw)
    assert img.shape == (2, 3, 8, 8) and img.dtype == np.float64 and np.isfinite(img).all()
    assert not np.allclose(img[0], img[1])
    at_avg = ref.reference_render(sd, z=z, psi=0.0, **kw)  # psi 0: every w is w_avg -> identical images
    np.testing.assert_allclose(at_avg[0], at_avg[1], atol=1e-12)
