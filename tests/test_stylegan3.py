"""StyleGAN3 pickles (configs T and R) against files written from FORMATS.md by an independent writer
(tests/nvpickle_writer.py), checked with an independent float64 forward pass (tests/sg3_reference.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from latentwalk.backends import load_model_bytes
from latentwalk.backends.safe_pickle import PersistentObject, load_restricted
from latentwalk.catalog import ModelRef
from latentwalk.cli import main
from latentwalk.errors import CorruptModelFile, InvalidRequest
from latentwalk.models import filtered_lrelu as fl
from latentwalk.models.stylegan3 import StyleGAN3Generator
from latentwalk.render.worker import InferenceWorker, RenderRequest
from nvpickle_writer import Tensor, broken_pickles, build_stylegan3, dumps_network_pickle
from sg3_reference import reference_render

CASES = {
    "T": dict(config="T"),
    "T-cond": dict(config="T", c_dim=3, z_dim=6, w_dim=12),
    "T-32px-up4": dict(config="T", img_resolution=32, channel_base=256, num_layers=5, seed=3),
    "T-clamp-scale-map": dict(
        config="T", conv_clamp=1, output_scale=0.5, mapping_layers=3, lr_multiplier=0.05, seed=4
    ),
    "R": dict(config="R", channel_base=256, channel_max=10),
    "R-cond-32px": dict(config="R", c_dim=2, img_resolution=32, num_layers=5, channel_base=256, seed=6),
    "T-torch1": dict(config="T", torch_style="1", seed=7),
}


def _load(case: str, **overrides: object) -> tuple[StyleGAN3Generator, dict, PersistentObject]:
    tree, state = build_stylegan3(**{**CASES[case], **overrides})  # type: ignore[arg-type]
    g = load_model_bytes(dumps_network_pickle(tree), f"{case}.pkl").generator
    assert isinstance(g, StyleGAN3Generator)
    return g, state, tree


def _ours(g: StyleGAN3Generator, z: np.ndarray, c: np.ndarray | None, **knobs: object) -> np.ndarray:
    with torch.inference_mode():
        cc = torch.from_numpy(c).float() if c is not None else torch.zeros([len(z), 0])
        return g.render(torch.from_numpy(z).float(), cc, **knobs).double().numpy()  # type: ignore[arg-type]


def _check(ours: np.ndarray, ref: np.ndarray, what: object) -> float:
    scale = float(np.abs(ref).max())
    assert scale > 0.05, f"the reference image is trivial; the test would prove nothing ({what})"
    err = float(np.abs(ours - ref).max())
    assert err <= 1e-4 * max(1.0, scale), (what, err, scale)
    return err


@pytest.mark.parametrize("case", list(CASES))
def test_render_matches_the_straightforward_reference(case: str) -> None:
    g, state, tree = _load(case)
    rng = np.random.RandomState(1)
    z = rng.randn(2, g.z_dim)
    c = np.eye(g.c_dim)[[1, 0]] if g.c_dim else None
    knobs = [(1.0, None, None), (0.7, None, (0.3, -0.2, 25.0)), (0.5, 2, (-1.25, 0.5, -90.0))]
    for psi, cutoff, transform in knobs:
        ref = reference_render(state, tree, z=z, c=c, psi=psi, cutoff=cutoff, transform=transform)
        ours = _ours(g, z, c, psi=psi, cutoff=cutoff, transform=transform)
        _check(ours, ref, (case, psi, cutoff, transform))


@pytest.mark.parametrize("case", ["T-32px-up4", "R-cond-32px"])
def test_fast_activation_equals_the_reference_activation_in_the_network(case: str) -> None:
    g, _, _ = _load(case)
    z = np.random.RandomState(2).randn(2, g.z_dim)
    c = np.eye(g.c_dim)[[0, 1]] if g.c_dim else None
    fast = _ours(g, z, c, transform=(0.1, 0.2, 30.0))
    slow = _ours(g.set_impl("reference"), z, c, transform=(0.1, 0.2, 30.0))
    assert np.abs(fast - slow).max() <= 1e-5 * max(1.0, np.abs(slow).max())


def test_clamp_is_exercised() -> None:
    """The clamp case really drives layers into conv_clamp (else that case tests nothing)."""
    g, _, _ = _load("T-clamp-scale-map")
    hits = []

    def hook(_m: torch.nn.Module, _i: object, out: torch.Tensor) -> None:
        hits.append(bool((out.abs() >= 1 - 1e-6).any()))

    handles = [getattr(g.synthesis, n).register_forward_hook(hook) for n in g.synthesis.layer_names[:-1]]
    _ours(g, np.random.RandomState(0).randn(1, g.z_dim), None)
    for h in handles:
        h.remove()
    assert any(hits)


@pytest.mark.parametrize("case", ["T-cond", "R", "T-torch1"])
def test_state_dict_names_order_and_values(case: str) -> None:
    """Our module has exactly NVIDIA's tensor names, in NVIDIA's order, with the stored values."""
    g, state, tree = _load(case)
    sd = g.state_dict()
    assert list(sd) == list(state)
    for key, value in state.items():
        np.testing.assert_array_equal(sd[key].numpy(), value.astype(np.float32), err_msg=key)
    top = load_restricted(dumps_network_pickle(tree))
    assert list(top["G_ema"].state_dict()) == list(state)
    assert g.num_ws == len(tree.get("synthesis").state["layer_names"]) + 1
    names = tree.get("synthesis").state["layer_names"]
    assert f"synthesis.{names[0]}.up_filter" in sd and f"synthesis.{names[-1]}.up_filter" not in sd


def test_radial_filters_and_config_detection() -> None:
    gr, _, _ = _load("R")
    gt, _, _ = _load("T")
    assert gr.cfg.kind == "R" and gt.cfg.kind == "T"
    radial = [s.name for s in gr.cfg.layers if s.down_radial]
    assert radial and all(getattr(gr.synthesis, n).down_filter.ndim == 2 for n in radial)
    assert not any(s.down_radial for s in gr.cfg.layers if s.is_critically_sampled)


def test_magnitude_ema_is_used() -> None:
    """magnitude_ema's default of 1 hides a loader that ignores it: the writer perturbs it, and a changed
    value must change the picture."""
    g, state, _ = _load("T")
    emas = [float(state[f"synthesis.{n}.magnitude_ema"]) for n in g.synthesis.layer_names]
    assert all(abs(e - 1) > 0.01 for e in emas)
    z = np.random.RandomState(0).randn(1, g.z_dim)
    before = _ours(g, z, None)
    with torch.no_grad():
        getattr(g.synthesis, g.synthesis.layer_names[1]).magnitude_ema.mul_(4.0)
    assert np.abs(_ours(g, z, None) - before).max() > 1e-3


def test_transform_is_per_call_and_leaves_the_module_alone() -> None:
    g, _, _ = _load("T")
    z = np.random.RandomState(3).randn(2, g.z_dim)
    stored = g.synthesis.input.transform.clone()
    plain = _ours(g, z, None)
    moved = _ours(g, z, None, transform=(0.5, 0.0, 0.0))
    identity = _ours(g, z, None, transform=(0.0, 0.0, 0.0))
    assert torch.equal(g.synthesis.input.transform, stored)
    assert np.abs(moved - plain).max() > 1e-2
    np.testing.assert_allclose(identity, plain, atol=1e-6)
    # Rotating by 360 degrees is the identity again (up to float rounding of the matrix).
    np.testing.assert_allclose(_ours(g, z, None, transform=(0.0, 0.0, 360.0)), plain, atol=1e-4)


def test_translation_moves_the_picture() -> None:
    """Shifting the Fourier features by exactly one output pixel moves every feature map by one pixel;
    in a config-T network the image follows (away from the borders, where the margin hides the edge)."""
    g, _, _ = _load("T", margin_size=10, num_layers=3, seed=11)
    z = np.random.RandomState(4).randn(1, g.z_dim)
    one_pixel = 1 / g.cfg.layers[-1].out_sampling_rate
    a = _ours(g, z, None)[0]
    b = _ours(g, z, None, transform=(one_pixel, 0.0, 0.0))[0]
    inner = (slice(None), slice(3, -3), slice(4, -3))
    shifted = (slice(None), slice(3, -3), slice(3, -4))
    assert np.abs(b[inner] - a[shifted]).max() < 0.15 * np.abs(a).max()
    assert np.abs(b[inner] - a[inner]).max() > 2 * np.abs(b[inner] - a[shifted]).max()


# -- geometry: a one-pixel padding error must not pass ------------------------------------------------------


def _centroid(response: np.ndarray) -> float:
    idx = np.arange(len(response))
    return float((response * idx).sum() / response.sum())


def _impulse_response(layer: torch.nn.Module, padding: list[int], size: int, column: int) -> np.ndarray:
    """The layer's filtered activation (made linear) of a unit impulse, summed over rows."""
    spec = layer.spec  # type: ignore[attr-defined]
    x = torch.zeros([1, 1, size, size])
    x[0, 0, size // 2, column] = 1.0
    with torch.no_grad():
        y = fl.filtered_lrelu(
            x, layer.up_filter, layer.down_filter, None, spec.up_factor, spec.down_factor, padding, 1.0, 1.0
        )
    return y[0, 0].double().numpy().sum(axis=0)


@pytest.mark.parametrize("config", ["T", "R"])
def test_critically_sampled_layers_keep_pixel_centres(config: str) -> None:
    """An impulse at an input pixel comes out centred on the same point of the image.

    Pixel j of a layer with size n and sampling rate s sits at (j + 0.5 - n/2) / s. With symmetric filters
    and a linear activation, the output of the activation is symmetric about the position of the input
    impulse, so its centroid lands there exactly; a padding off by one moves it by 1/down of a pixel.
    """
    g, _, _ = _load(config, asymmetric_filters=False, num_layers=4, seed=9)
    layers = [s for s in g.cfg.layers if s.is_critically_sampled and not s.is_torgb]
    assert len(layers) == 2
    for spec in layers:
        layer = getattr(g.synthesis, spec.name)
        size = spec.in_size[0] + spec.conv_kernel - 1  # the convolution's output: (k - 1) / 2 more each side
        for column in (size // 2 - 3, size // 2, size // 2 + 2):
            pos = (column - (spec.conv_kernel - 1) / 2 + 0.5 - spec.in_size[0] / 2) / spec.in_sampling_rate
            expected = pos * spec.out_sampling_rate + spec.out_size[0] / 2 - 0.5
            response = _impulse_response(layer, list(spec.padding), size, column)
            assert abs(_centroid(response) - expected) < 1e-3, (spec.name, column)
            lo, hi, y0, y1 = spec.padding
            shifted = _impulse_response(layer, [lo + 1, hi - 1, y0, y1], size, column)
            assert abs(_centroid(shifted) - expected - 1 / spec.down_factor) < 1e-3, (spec.name, column)


def test_a_one_pixel_padding_error_in_a_critical_layer_fails_the_reference_comparison() -> None:
    """The stored padding is honoured, and the reference comparison is sharp enough to see one pixel."""
    tree, state = build_stylegan3(config="T", seed=12)
    critical = [
        n
        for n in tree.get("synthesis").state["layer_names"]
        if tree.get(f"synthesis.{n}").state["is_critically_sampled"]
        and not tree.get(f"synthesis.{n}").state["is_torgb"]
    ]
    z = np.random.RandomState(5).randn(1, 8)
    ref = reference_render(state, tree, z=z, c=None, psi=1.0)
    for name in critical:
        bad, bad_state = build_stylegan3(config="T", seed=12)
        lo, hi, y0, y1 = bad.get(f"synthesis.{name}").state["padding"]
        bad.get(f"synthesis.{name}").state["padding"] = [lo + 1, hi - 1, y0, y1]
        g = load_model_bytes(dumps_network_pickle(bad), "shifted.pkl").generator
        ours = _ours(g, z, None)
        assert np.abs(ours - ref).max() > 100 * 1e-4 * max(1.0, np.abs(ref).max()), name
        _check(ours, reference_render(bad_state, bad, z=z, c=None, psi=1.0), name)


# -- refusals ------------------------------------------------------------------------------------------------


def _broken(mutate) -> bytes:  # type: ignore[no-untyped-def]
    tree, _ = build_stylegan3(config="T", seed=2)
    mutate(tree)
    return dumps_network_pickle(tree)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda t: t.get("synthesis.L1_36_8").buffers.update(up_filter=None),
            r"layer L1_36_8 has no up_filter",
        ),
        (
            lambda t: t.get("synthesis.L2_36_8").buffers.update(down_filter=None),
            r"layer L2_36_8 has no down_filter",
        ),
        (
            lambda t: t.get("synthesis.L0_36_8").buffers.update(
                magnitude_ema=Tensor(np.ones([3], np.float32), parameter=False)
            ),
            r"layer L0_36_8: magnitude_ema has shape \(3,\), expected a scalar",
        ),
        (
            lambda t: t.get("synthesis.L0_36_8").buffers.update(
                magnitude_ema=Tensor(np.asarray(-1.0, np.float32), parameter=False)
            ),
            r"layer L0_36_8: magnitude_ema is -1.0",
        ),
        (
            lambda t: t.get("synthesis.L1_36_8").buffers.update(
                up_filter=Tensor(np.ones([11], np.float32), parameter=False)
            ),
            r"layer L1_36_8: up_filter has shape \(11,\), expected \(12,\)",
        ),
        (lambda t: t.get("synthesis.L3_16_8").state.update(padding=[1, 1, 1]), r"layer L3_16_8: padding"),
        (
            lambda t: t.get("synthesis.L3_16_8").state.update(padding=[-11, -10, -11, -12]),
            r"layer L3_16_8: padding \[-11, -10, -11, -12\] turns",
        ),
        (lambda t: t.get("synthesis").modules.pop("L2_36_8"), r"layer L2_36_8 is listed but missing"),
        (lambda t: t.get("synthesis.L2_36_8").state.update(in_channels=5), r"layer L2_36_8 takes 5 channels"),
        (lambda t: t.get("synthesis.input").state.pop("bandwidth"), r"synthesis.input: bandwidth is missing"),
    ],
)
def test_broken_stylegan3_files_name_the_layer(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CorruptModelFile, match=message) as info:
        load_model_bytes(_broken(mutate), "broken-sg3.pkl")
    assert "broken-sg3.pkl" in str(info.value)


def test_writer_broken_files_are_refused() -> None:
    files = broken_pickles()
    with pytest.raises(CorruptModelFile, match=r"layer L\d+_\d+_\d+ has no up_filter"):
        load_model_bytes(files["sg3_missing_up_filter"], "a.pkl")
    with pytest.raises(CorruptModelFile, match=r"layer L\d+_\d+_\d+: magnitude_ema has shape"):
        load_model_bytes(files["sg3_magnitude_ema_shape"], "b.pkl")


# -- info, CLI and worker ------------------------------------------------------------------------------------


def test_info_reports_config_layers_and_sampling_rates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    tree, _ = build_stylegan3(config="R", img_resolution=32, num_layers=5, channel_base=256, seed=1)
    path = tmp_path / "sg3r.pkl"
    path.write_bytes(dumps_network_pickle(tree))
    result = CliRunner().invoke(main, ["--cache-dir", str(tmp_path / "c"), "info", str(path)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "config           R (rotation equivariant" in out
    assert "Fourier features" in out and "sampling rate 16" in out
    for name in tree.get("synthesis").state["layer_names"]:
        assert name in out
    assert "L3_52_8" in out and "52x52" in out and "critically sampled" in out and "radial" in out
    result = CliRunner().invoke(main, ["--cache-dir", str(tmp_path / "c"), "info", "--json", str(path)])
    import json

    d = json.loads(result.output)
    assert d["family"] == "stylegan3" and d["config"].startswith("R") and "transform" in d["capabilities"]
    assert [layer["sampling_rate"] for layer in d["layers"]] == [16, 16, 32, 32, 32, 32]


def test_generate_translate_rotate_and_refusal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    tree, state = build_stylegan3(config="T", seed=8)
    path = tmp_path / "sg3t.pkl"
    path.write_bytes(dumps_network_pickle(tree))
    args = ["--cache-dir", str(tmp_path / "c"), "generate", "--network", str(path), "--seeds", "3"]
    result = CliRunner().invoke(
        main, [*args, "--outdir", str(tmp_path / "o"), "--translate=-0.25,0.5", "--rotate", "30"]
    )
    assert result.exit_code == 0, result.output
    from PIL import Image

    with Image.open(tmp_path / "o" / "seed0003.png") as im:
        pixels = np.asarray(im).astype(np.float64)
    z = np.random.RandomState(3).randn(1, 8)
    ref = reference_render(state, tree, z=z, c=None, psi=1.0, transform=(-0.25, 0.5, 30.0))
    ref_pixels = np.clip(ref[0].transpose(1, 2, 0) * 127.5 + 128, 0, 255)
    assert np.abs(pixels - ref_pixels).max() <= 1.0

    result = CliRunner().invoke(main, [*args, "--outdir", str(tmp_path / "o"), "--translate", "1"])
    assert result.exit_code == 1 and "--translate wants two numbers" in result.output
    other = ["--cache-dir", str(tmp_path / "c"), "generate", "--network", "procedural", "--seeds", "1"]
    result = CliRunner().invoke(main, [*other, "--outdir", str(tmp_path / "p"), "--rotate", "10"])
    assert result.exit_code == 1 and "cannot be translated or rotated" in result.output


def test_worker_passes_the_transform_and_refuses_models_without_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    tree, _ = build_stylegan3(config="T", seed=8)
    path = tmp_path / "sg3t.pkl"
    path.write_bytes(dumps_network_pickle(tree))
    z = np.random.RandomState(0).randn(1, 8)
    with InferenceWorker(tmp_path / "c", device="cpu") as w:
        ref = ModelRef("sg3t", path=path)
        plain = w.render(RenderRequest(ref, z))
        moved = w.render(RenderRequest(ref, z, transform=(0.3, 0.0, 45.0)))
        assert np.abs(plain.astype(int) - moved.astype(int)).max() > 10
        ws = w.map(ref, z)
        np.testing.assert_array_equal(w.render(RenderRequest(ref, ws=ws, transform=(0.3, 0.0, 45.0))), moved)
        with pytest.raises(InvalidRequest, match="cannot be translated or rotated"):
            w.render(
                RenderRequest(
                    ModelRef("procedural", zoo="procedural"), np.zeros([1, 512]), transform=(1, 0, 0)
                )
            )


def test_batch_rows_equal_single_renders() -> None:
    """A row renders the same alone and in a batch (modulation and demodulation are per sample)."""
    g, _, _ = _load("T-cond")
    z = np.random.RandomState(9).randn(3, g.z_dim)
    c = np.eye(3)
    together = _ours(g, z, c)
    for i in range(3):
        np.testing.assert_allclose(_ours(g, z[i : i + 1], c[i : i + 1]), together[i : i + 1], atol=1e-5)
    assert math.isclose(g.cfg.output_scale, 0.25)


@pytest.mark.parametrize("config", ["T", "R"])
def test_designed_generators_agree_with_the_writer_and_render(config: str) -> None:
    """`design_stylegan3` (src) and the test writer compute the geometry independently: they must agree;
    a random designed generator renders the same with the fast and the reference activation."""
    from latentwalk.models.stylegan3_design import design_stylegan3, random_stylegan3

    kw = dict(img_resolution=32, channel_base=256, channel_max=8, num_layers=5)
    cfg = design_stylegan3(config=config, z_dim=8, w_dim=16, **kw)  # type: ignore[arg-type]
    tree, _ = build_stylegan3(config=config, **kw)  # type: ignore[arg-type]
    syn = tree.get("synthesis")
    assert [s.name for s in cfg.layers] == syn.state["layer_names"]
    for spec in cfg.layers:
        st = syn.modules[spec.name].state
        assert list(spec.padding) == st["padding"], spec.name
        assert (spec.up_factor, spec.up_taps, spec.down_factor, spec.down_taps, spec.down_radial) == (
            st["up_factor"],
            st["up_taps"],
            st["down_factor"],
            st["down_taps"],
            st["down_radial"],
        )
        assert spec.in_cutoff == pytest.approx(float(st["in_cutoff"]))
    g = random_stylegan3(cfg, seed=1)
    z = np.random.RandomState(0).randn(1, 8)
    fast = _ours(g, z, None, transform=(0.2, 0.1, 12.0))
    assert np.isfinite(fast).all() and fast.std() > 1e-3
    slow = _ours(g.set_impl("reference"), z, None, transform=(0.2, 0.1, 12.0))
    assert np.abs(fast - slow).max() <= 1e-5 * max(1.0, np.abs(slow).max())
