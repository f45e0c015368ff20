"""Hostile and broken files: nothing from the file runs, every refusal is clear, the rest goes on."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from latentwalk.backends import load_model_bytes
from latentwalk.backends.safe_pickle import parse_legacy_storage
from latentwalk.errors import CorruptModelFile, UnsafeModelFile, UnsupportedFormat
from nvpickle_writer import broken_pickles, build_stylegan2, dumps_network_pickle, hostile_pickles

# Files that carry a payload only a code-executing loader would run, but are otherwise valid:
# latentwalk loads them (never executing the payload).
LOADS_WITHOUT_RUNNING = {"module_src_exec"}


def test_hostile_files_are_refused_and_nothing_runs(tmp_path: Path) -> None:
    sentinel = tmp_path / "SENTINEL"
    files = hostile_pickles(sentinel)
    assert len(files) >= 8
    for name, data in files.items():
        if name in LOADS_WITHOUT_RUNNING:
            load_model_bytes(data, f"{name}.pkl")
            continue
        with pytest.raises(UnsafeModelFile) as info:
            load_model_bytes(data, f"{name}.pkl")
        message = str(info.value)
        assert message.startswith(f"{name}.pkl: the file asks for '"), message
        assert "Nothing was run" in message
        assert not sentinel.exists(), f"{name} ran code"
    assert not sentinel.exists()


def test_the_real_torch_functions_are_never_called(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each allowed global maps to a handler of ours: the torch functions the file names must not run
    (the real `_load_from_bytes` runs an unrestricted torch.load on bytes from the file)."""
    import torch._utils
    import torch.storage

    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("a real torch function ran while loading a pickle")

    for mod, name in [
        (torch.storage, "_load_from_bytes"),
        (torch._utils, "_rebuild_tensor_v2"),
        (torch._utils, "_rebuild_parameter"),
        (torch, "load"),
    ]:
        monkeypatch.setattr(mod, name, boom)
    tree, _ = build_stylegan2(seed=3)
    g = load_model_bytes(dumps_network_pickle(tree), "ok.pkl").generator
    assert g.z_dim == 8


EXPECTED_BROKEN = {
    "truncated": (CorruptModelFile, "not a complete pickle"),
    "empty_file": (CorruptModelFile, "empty"),
    "not_a_pickle_png": (UnsupportedFormat, "is an image"),
    "storage_numel_1e12": (CorruptModelFile, "1000000000000 elements"),
    "storage_count_1e12": (CorruptModelFile, "1000000000000 elements"),
    "tensor_size_exceeds_storage": (CorruptModelFile, "reaches past the end"),
    "storage_bad_magic": (CorruptModelFile, "wrong magic"),
    "storage_truncated_data": (CorruptModelFile, "truncated"),
    "missing_mapping": (CorruptModelFile, "no 'synthesis' or 'mapping'"),
    "sg3_missing_up_filter": (CorruptModelFile, "layer L1_36_8 has no up_filter"),
    "sg3_magnitude_ema_shape": (CorruptModelFile, "layer L2_36_8: magnitude_ema has shape (4,)"),
    "no_G_ema": (UnsupportedFormat, "expected a dict with 'G_ema'"),
    "top_level_list": (UnsupportedFormat, "not an NVIDIA network snapshot"),
    "persistence_version_5": (UnsupportedFormat, "persistence version 5"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_BROKEN))
def test_broken_files_get_clear_errors(name: str) -> None:
    files = broken_pickles()
    kind, fragment = EXPECTED_BROKEN[name]
    with pytest.raises(kind) as info:
        load_model_bytes(files[name], f"{name}.pkl")
    assert fragment in str(info.value) and f"{name}.pkl" in str(info.value)


def test_every_broken_file_is_covered() -> None:
    # The writer's TensorFlow triple was refused before TF pickles were supported; it loads now.
    assert set(broken_pickles()) == set(EXPECTED_BROKEN) | {"tensorflow_pickle"}


def test_the_writers_tensorflow_triple_now_loads_as_stylegan2() -> None:
    loaded = load_model_bytes(broken_pickles()["tensorflow_pickle"], "tf.pkl")
    assert loaded.info["format"] == "NVIDIA TensorFlow pickle (StyleGAN2)"
    assert loaded.generator.img_resolution == 8 and loaded.generator.z_dim == 8


def test_wrong_shapes_and_non_finite_weights_name_the_tensor() -> None:
    from nvpickle_writer import Tensor

    tree, _ = build_stylegan2(seed=2)
    conv = tree.get("synthesis.b8.conv1")
    conv.parameters["weight"] = Tensor(conv.parameters["weight"].data[:, :-1], parameter=True)
    with pytest.raises(CorruptModelFile, match=r"synthesis\.b8\.conv1\.weight has shape"):
        load_model_bytes(dumps_network_pickle(tree), "shape.pkl")
    tree, _ = build_stylegan2(seed=2)
    bias = tree.get("mapping.fc1").parameters["bias"]
    bias.data[0] = float("nan")
    with pytest.raises(CorruptModelFile, match=r"mapping\.fc1\.bias holds NaN"):
        load_model_bytes(dumps_network_pickle(tree), "nan.pkl")
    tree, _ = build_stylegan2(seed=2)
    del tree.get("synthesis.b4.conv1").buffers["noise_const"]
    with pytest.raises(CorruptModelFile, match=r"missing \['synthesis\.b4\.conv1\.noise_const'\]"):
        load_model_bytes(dumps_network_pickle(tree), "missing.pkl")


def test_storage_parser_reads_torchs_own_legacy_blob() -> None:
    """What torch itself writes when a tensor is pickled (not only what our test writer writes)."""
    import warnings

    t = torch.arange(5, dtype=torch.float32) * 1.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage is deprecated, and is what pickles carry
        fn, (blob,) = t.storage().__reduce__()
    assert fn.__name__ == "_load_from_bytes"
    torch.testing.assert_close(parse_legacy_storage(blob), t)
