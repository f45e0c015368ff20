"""The StyleGAN2 pickle loader against files written from FORMATS.md by an independent writer
(tests/nvpickle_writer.py), checked with an independent straightforward forward pass
(tests/sg2_reference.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from latentwalk.backends import load_model_bytes, load_model_file
from latentwalk.backends.safe_pickle import PersistentObject, load_restricted
from latentwalk.models.stylegan2 import StyleGAN2Generator
from nvpickle_writer import build_stylegan2, dumps_network_pickle
from sg2_reference import reference_render

CASES = {
    "sg3repo-skip": dict(family="stylegan3"),
    "ada-skip": dict(family="ada"),
    "conditional": dict(family="stylegan3", c_dim=3, embed_features=12),
    "resnet-clamp": dict(family="stylegan3", architecture="resnet", conv_clamp=256, value_scale=1000.0),
    "orig": dict(family="ada", architecture="orig"),
    "mapping": dict(
        family="ada", mapping_layers=4, layer_features=20, lr_multiplier=0.05, z_dim=10, w_dim=12
    ),
    "fp16-torch1": dict(
        family="ada", num_fp16_res=2, conv_clamp=256, torch_style="1", fp16_channels_last=True
    ),
    "res32": dict(family="stylegan3", img_resolution=32, channel_base=512),
}


def _load(
    case: str, protocol: int = 4, spelling: str = "numpy.core"
) -> tuple[StyleGAN2Generator, dict, dict]:
    kw = dict(CASES[case])
    tree, state = build_stylegan2(seed=7, **kw)  # type: ignore[arg-type]
    data = dumps_network_pickle(tree, protocol=protocol, numpy_core_spelling=spelling)
    loaded = load_model_bytes(data, f"{case}.pkl")
    g = loaded.generator
    assert isinstance(g, StyleGAN2Generator)
    return g, state, kw


def _ours(g: StyleGAN2Generator, z: np.ndarray, c: np.ndarray | None, **knobs: object) -> np.ndarray:
    with torch.inference_mode():
        cc = torch.from_numpy(c).float() if c is not None else torch.zeros([len(z), 0])
        return g.render(torch.from_numpy(z).float(), cc, **knobs).double().numpy()  # type: ignore[arg-type]


@pytest.mark.parametrize("case", list(CASES))
def test_render_matches_the_straightforward_reference(case: str) -> None:
    g, state, kw = _load(case)
    rng = np.random.RandomState(1)
    z = rng.randn(2, g.z_dim)
    c = np.eye(g.c_dim)[[1, 2]] if g.c_dim else None
    for psi, cutoff, noise in [(1.0, None, "const"), (0.7, None, "none"), (0.5, 3, "const")]:
        ref = reference_render(
            state,
            z=z,
            c=c,
            psi=psi,
            cutoff=cutoff,
            noise_mode=noise,
            num_ws=g.num_ws,
            mapping_layers=kw.get("mapping_layers", 2),
            architecture=kw.get("architecture", "skip"),
            conv_clamp=kw.get("conv_clamp"),
            img_resolution=g.img_resolution,
            lr_multiplier=kw.get("lr_multiplier", 0.01),
        )
        ours = _ours(g, z, c, psi=psi, cutoff=cutoff, noise_mode=noise)
        scale = np.abs(ref).max()
        assert scale > 0.1, "the reference image is trivial; the test would prove nothing"
        assert np.abs(ours - ref).max() <= 1e-4 * max(1.0, scale), (case, psi, cutoff, noise)


def test_clamp_is_exercised() -> None:
    """The resnet-clamp case really drives layers into conv_clamp (else the case tests nothing)."""
    g, _, _ = _load("resnet-clamp")
    hits = []

    def hook(_m: torch.nn.Module, _i: object, out: torch.Tensor) -> None:
        hits.append(bool((out.abs() >= 256 * math.sqrt(0.5) - 1e-3).any()))

    handles = [m.register_forward_hook(hook) for n, m in g.named_modules() if n.endswith(("conv0", "conv1"))]
    _ours(g, np.random.RandomState(0).randn(1, g.z_dim), None)
    for h in handles:
        h.remove()
    assert any(hits)


@pytest.mark.parametrize(("protocol", "spelling"), [(2, "numpy.core"), (3, "numpy.core"), (4, "numpy._core")])
def test_protocols_and_numpy_spellings(protocol: int, spelling: str) -> None:
    g, state, _ = _load("sg3repo-skip", protocol, spelling)
    sd = g.state_dict()
    for key, value in state.items():
        np.testing.assert_array_equal(sd[key].numpy(), value.astype(np.float32), err_msg=key)


@pytest.mark.parametrize("case", ["sg3repo-skip", "ada-skip", "resnet-clamp", "conditional"])
def test_state_dict_key_order_and_names(case: str) -> None:
    """Our module has exactly NVIDIA's tensor names, in NVIDIA's order (synthesis before mapping)."""
    g, state, _ = _load(case)
    assert list(g.state_dict()) == list(state)
    tree, _ = build_stylegan2(seed=7, **CASES[case])  # type: ignore[arg-type]
    top = load_restricted(dumps_network_pickle(tree))
    assert isinstance(top["G_ema"], PersistentObject)
    assert list(top["G_ema"].state_dict()) == list(state)


@pytest.mark.parametrize("res", [8, 16, 64])
def test_num_ws_and_routing(res: int) -> None:
    tree, _ = build_stylegan2(img_resolution=res, channel_base=4 * res, channel_max=8, seed=1)
    g = load_model_bytes(dumps_network_pickle(tree), "x.pkl").generator
    assert g.num_ws == 2 * int(math.log2(res)) - 2
    # Routing: block R reads num_conv + num_torgb consecutive ws from an index that advances by
    # num_conv, so changing w[i] must change exactly the layers that facts say read it.
    seen: dict[str, int] = {}
    idx = 0
    for r in g.synthesis.block_resolutions:
        block = getattr(g.synthesis, f"b{r}")
        names = (["conv0"] if r > 4 else []) + ["conv1"] + ["torgb"]
        for k, n in enumerate(names):
            seen[f"b{r}.{n}"] = idx + k
        idx += block.num_conv
    ws = torch.randn(1, g.num_ws, g.w_dim)
    captured: dict[str, torch.Tensor] = {}
    hooks = [
        getattr(g.synthesis, name.split(".")[0])
        .get_submodule(name.split(".")[1] + ".affine")
        .register_forward_hook(lambda _m, inp, _o, name=name: captured.__setitem__(name, inp[0].clone()))
        for name in seen
    ]
    with torch.inference_mode():
        g.synthesis(ws)
    for h in hooks:
        h.remove()
    for name, i in seen.items():
        torch.testing.assert_close(captured[name], ws[:, i], msg=name)
    assert max(seen.values()) == g.num_ws - 1


def test_equalised_learning_rate_gains() -> None:
    g, state, kw = _load("mapping")
    fc0 = g.mapping.fc0
    assert fc0.weight_gain == pytest.approx(kw["lr_multiplier"] / math.sqrt(kw["z_dim"]))
    assert fc0.bias_gain == pytest.approx(kw["lr_multiplier"])
    torgb = g.synthesis.b16.torgb
    assert torgb.weight_gain == pytest.approx(1 / math.sqrt(torgb.weight.shape[1]))
    assert g.synthesis.b16.conv1.affine.weight_gain == pytest.approx(1 / math.sqrt(kw["w_dim"]))


def test_load_from_file_reports_family(tmp_path: Path) -> None:
    for fam, expected in (("stylegan3", "stylegan3"), ("ada", "stylegan2-ada-pytorch")):
        tree, _ = build_stylegan2(family=fam, c_dim=2)
        path = tmp_path / f"{fam}.pkl"
        path.write_bytes(dumps_network_pickle(tree))
        info = load_model_file(path).info
        assert expected in info["class"] and info["family"] == "stylegan2" and len(info["sha256"]) == 64
