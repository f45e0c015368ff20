"""TensorFlow-era pickles (StyleGAN2, StyleGAN, Progressive GAN) loaded with no TensorFlow.

Files come from an independent opcode-level writer (tests/tfpickle_writer.py) with the real TF
variable names and shapes; renders are compared with straightforward float64 references:
tests/sg2_reference.py (after the FORMATS.md name mapping, done here by the test) for StyleGAN2 and
tests/tf_reference.py (TensorFlow's op definitions, on the TF variables as stored) for the others.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import tfpickle_writer as W
from latentwalk.backends import load_model_bytes, load_model_file
from latentwalk.errors import CorruptModelFile, UnsupportedFormat
from sg2_reference import reference_render
from tf_reference import progan_render, stylegan1_mapping, stylegan1_render

TOL = 2e-4  # float32 against float64, images of magnitude ~1


def _flat(net: W.Network, prefix: str = "") -> dict[str, np.ndarray]:
    out = {prefix + k: np.asarray(v, np.float32) for k, v in net.state["variables"]}
    for key, comp in net.state.get("components", {}).items():
        out.update(_flat(comp, f"{prefix}{key}/"))
    return out


def _render(g: torch.nn.Module, z: np.ndarray, c: np.ndarray | None = None, **knobs) -> np.ndarray:
    with torch.inference_mode():
        cc = torch.from_numpy(c).float() if c is not None else torch.zeros([len(z), 0])
        return g.render(torch.from_numpy(z).float(), cc, **knobs).double().numpy()


# --------------------------------------------------------------------------------------------------
# StyleGAN2


def _sg2_to_pytorch(v: dict[str, np.ndarray], res: int, arch: str) -> dict[str, np.ndarray]:
    """FORMATS.md section B's table, spelled out independently of the loader."""
    sd = {"mapping.w_avg": v["dlatent_avg"]}
    for key, value in v.items():
        if key.startswith("mapping/Dense"):
            i, leaf = key[len("mapping/Dense") :].split("/")
            sd[f"mapping.fc{i}.{leaf}"] = value.T if leaf == "weight" else value
        if key.startswith("mapping/LabelEmbed/"):
            leaf = key.rsplit("/", 1)[1]
            sd[f"mapping.embed.{leaf}"] = value.T if leaf == "weight" else value
    sd["synthesis.b4.const"] = v["synthesis/4x4/Const/const"][0]
    layers = [("b4.conv1", "4x4/Conv", 4, False)]
    for k in range(3, int(math.log2(res)) + 1):
        r = 2**k
        layers += [(f"b{r}.conv0", f"{r}x{r}/Conv0_up", r, True), (f"b{r}.conv1", f"{r}x{r}/Conv1", r, False)]
    for idx, (ours, tf, _r, flip) in enumerate(layers):
        w = v[f"synthesis/{tf}/weight"]
        sd[f"synthesis.{ours}.weight"] = (w[::-1, ::-1] if flip else w).transpose(3, 2, 0, 1)
        sd[f"synthesis.{ours}.bias"] = v[f"synthesis/{tf}/bias"]
        sd[f"synthesis.{ours}.affine.weight"] = v[f"synthesis/{tf}/mod_weight"].T
        sd[f"synthesis.{ours}.affine.bias"] = v[f"synthesis/{tf}/mod_bias"] + 1
        if f"synthesis/{tf}/noise_strength" in v:
            sd[f"synthesis.{ours}.noise_strength"] = v[f"synthesis/{tf}/noise_strength"]
            sd[f"synthesis.{ours}.noise_const"] = v[f"synthesis/noise{idx}"][0, 0]
    for key, value in v.items():
        parts = key.split("/")
        if len(parts) == 4 and parts[2] in ("ToRGB", "Skip"):
            r = int(parts[1].split("x")[0])
            name = {
                "weight": "weight",
                "bias": "bias",
                "mod_weight": "affine.weight",
                "mod_bias": "affine.bias",
            }
            if parts[2] == "Skip":
                sd[f"synthesis.b{r}.skip.weight"] = value[::-1, ::-1].transpose(3, 2, 0, 1)
                continue
            val = value.transpose(3, 2, 0, 1) if parts[3] == "weight" else value
            val = val.T if parts[3] == "mod_weight" else val
            sd[f"synthesis.b{r}.torgb.{name[parts[3]]}"] = val + 1 if parts[3] == "mod_bias" else val
    taps = np.array([1.0, 3.0, 3.0, 1.0])  # resample_kernel's default; TF stores no filter
    filt = np.outer(taps, taps) / np.outer(taps, taps).sum()
    for k in range(2, int(math.log2(res)) + 1):
        for sub in ("", ".conv0", ".conv1", ".skip"):
            sd[f"synthesis.b{2**k}{sub}.resample_filter"] = filt
    return {k: np.ascontiguousarray(x) for k, x in sd.items()}


SG2_CASES = {
    "stylegan2-skip": dict(),
    "ada-resnet-cond": dict(ada=True, architecture="resnet", c_dim=3, mapping_layers=3),
    "orig-32px": dict(architecture="orig", resolution=32, fmap_base=64),
    "no-noise": dict(use_noise=False, extra_kwargs={"mapping_lrmul": 0.05, "fused_modconv": False}),
    "clamp": dict(ada=True, extra_kwargs={"conv_clamp": 0.5}),
}


@pytest.mark.parametrize("case", list(SG2_CASES))
def test_stylegan2_matches_the_reference(case: str) -> None:
    kw = SG2_CASES[case]
    nets = W.stylegan2(seed=3, **kw)
    loaded = load_model_bytes(W.dumps(nets, protocol=4), f"{case}.pkl")
    g = loaded.generator
    assert loaded.info["format"] == "NVIDIA TensorFlow pickle (StyleGAN2)"
    arch = kw.get("architecture", "skip")
    assert loaded.info["architecture"] == arch
    assert loaded.info["conv_clamp"] == kw.get("extra_kwargs", {}).get("conv_clamp")
    res = kw.get("resolution", 16)
    state = _sg2_to_pytorch(_flat(nets[2]), res, arch)
    rng = np.random.RandomState(0)
    z = rng.randn(2, g.z_dim)
    c = np.eye(g.c_dim)[[0, 2]] if g.c_dim else None
    lr = kw.get("extra_kwargs", {}).get("mapping_lrmul", 0.01)
    for psi, cutoff, noise in [(1.0, None, "const"), (0.7, None, "none"), (0.5, 3, "const")]:
        ours = _render(g, z, c, psi=psi, cutoff=cutoff, noise_mode=noise)
        ref = reference_render(
            state, z=z, c=c, psi=psi, cutoff=cutoff, num_ws=g.num_ws,
            noise_mode=noise if kw.get("use_noise", True) else "none",  # no noise inputs at all
            mapping_layers=kw.get("mapping_layers", 2), architecture=arch,
            conv_clamp=kw.get("extra_kwargs", {}).get("conv_clamp"),
            img_resolution=res, lr_multiplier=lr,
        )  # fmt: skip
        assert ours.std() > 0.05
        np.testing.assert_allclose(ours, ref, atol=TOL, rtol=0)


def test_stylegan2_w_avg_is_dlatent_avg_and_psi_zero_gives_the_average_image() -> None:
    nets = W.stylegan2(seed=4)
    g = load_model_bytes(W.dumps(nets), "avg.pkl").generator
    np.testing.assert_array_equal(g.w_avg.numpy(), _flat(nets[2])["dlatent_avg"])
    imgs = _render(g, np.random.RandomState(1).randn(3, g.z_dim), psi=0.0)
    np.testing.assert_allclose(imgs[0], imgs[2], atol=1e-5)


# --------------------------------------------------------------------------------------------------
# StyleGAN (v1)

SG1_CASES = {
    "default-16px": dict(),
    "fused-16px": dict(extra_kwargs={"fused_scale": True}),
    "conditional-8px": dict(c_dim=2, resolution=8),
    "cutoff-2": dict(extra_kwargs={"truncation_cutoff": 2}),
}


@pytest.mark.parametrize("case", list(SG1_CASES))
def test_stylegan1_matches_the_reference(case: str) -> None:
    kw = SG1_CASES[case]
    nets = W.stylegan1(seed=5, **kw)
    loaded = load_model_bytes(W.dumps(nets, protocol=3), f"{case}.pkl")
    g = loaded.generator
    assert (
        loaded.info["family"] == "stylegan1" and g.num_ws == 2 * int(math.log2(kw.get("resolution", 16))) - 2
    )
    extra = kw.get("extra_kwargs", {})
    fused_from = 8 if extra.get("fused_scale") is True else 128
    default_cutoff = extra.get("truncation_cutoff", 8)
    v = _flat(nets[2])
    z = np.random.RandomState(2).randn(2, g.z_dim)
    c = np.eye(g.c_dim)[[1, 0]] if g.c_dim else None
    for psi, cutoff, noise in [(1.0, None, "const"), (0.7, None, "none"), (0.5, 3, "const")]:
        ours = _render(g, z, c, psi=psi, cutoff=cutoff, noise_mode=noise)
        dl = stylegan1_mapping(v, z, c, psi, default_cutoff if cutoff is None else cutoff, g.num_ws)
        ref = stylegan1_render(v, dl, noise_mode=noise, fused_from=fused_from)
        assert ours.std() > 0.05
        np.testing.assert_allclose(ours, ref, atol=TOL, rtol=0)


def test_stylegan1_default_cutoff_is_eight_layers() -> None:
    nets = W.stylegan1(seed=6, resolution=32)  # 8 style layers: the cutoff leaves the last 2 alone
    g = load_model_bytes(W.dumps(nets), "cut.pkl").generator
    z = torch.from_numpy(np.random.RandomState(3).randn(1, g.z_dim)).float()
    ws_full, ws_trunc = g.mapping(z, None, psi=1.0), g.mapping(z, None, psi=0.5)
    assert g.num_ws == 8
    assert not torch.allclose(ws_full[:, :8], ws_trunc[:, :8])
    nets = W.stylegan1(seed=6, resolution=64, fmap_base=32, fmap_max=8)
    g = load_model_bytes(W.dumps(nets), "cut64.pkl").generator
    z = torch.from_numpy(np.random.RandomState(3).randn(1, g.z_dim)).float()
    ws_full, ws_trunc = g.mapping(z, None, psi=1.0), g.mapping(z, None, psi=0.5)
    assert g.num_ws == 10
    torch.testing.assert_close(ws_full[:, 8:], ws_trunc[:, 8:])
    assert not torch.allclose(ws_full[:, 7], ws_trunc[:, 7])


# --------------------------------------------------------------------------------------------------
# Progressive GAN


@pytest.mark.parametrize(
    "kw", [dict(), dict(fused_scale=False), dict(c_dim=3, resolution=8)], ids=["fused", "nearest", "cond-8px"]
)
def test_progan_matches_the_reference(kw: dict) -> None:
    nets = W.progan(seed=7, **kw)
    loaded = load_model_bytes(W.dumps(nets, protocol=2), "karras2018iclr-tiny.pkl")
    g = loaded.generator
    assert loaded.info["family"] == "progan" and "tfutil.Network" in loaded.info["format"]
    assert not hasattr(g, "w_dim")  # z only: no w space to pretend
    z = np.random.RandomState(4).randn(3, g.z_dim)
    c = np.eye(g.c_dim)[[0, 1, 2]] if g.c_dim else None
    ours = _render(g, z, c)
    ref = progan_render(_flat(nets[2]), z, c)
    assert ours.std() > 0.05
    np.testing.assert_allclose(ours, ref, atol=TOL, rtol=0)


# --------------------------------------------------------------------------------------------------
# Container details, determinism, errors


@pytest.mark.parametrize("build", [W.stylegan2, W.stylegan1, W.progan], ids=["sg2", "sg1", "progan"])
def test_protocols_and_numpy_spellings_load_the_same_and_render_deterministically(build) -> None:
    nets = build(seed=8)
    outs = []
    for protocol, core in [(2, "numpy.core"), (3, "numpy.core"), (4, "numpy._core")]:
        g = load_model_bytes(W.dumps(nets, protocol=protocol, numpy_core=core), "p.pkl").generator
        z = np.random.RandomState(5).randn(2, g.z_dim)
        outs.append(_render(g, z, psi=0.7))
        outs.append(_render(g, z, psi=0.7))
    for other in outs[1:]:
        np.testing.assert_array_equal(outs[0], other)
    assert np.abs(outs[0][0] - outs[0][1]).max() > 0.1  # and different latents give different images


def test_random_noise_differs_and_const_noise_is_the_stored_noise() -> None:
    g = load_model_bytes(W.dumps(W.stylegan1(seed=9)), "n.pkl").generator
    z = np.random.RandomState(6).randn(1, g.z_dim)
    a, b = _render(g, z, noise_mode="random"), _render(g, z, noise_mode="random")
    assert np.abs(a - b).max() > 1e-3
    assert np.abs(_render(g, z, noise_mode="const") - _render(g, z, noise_mode="none")).max() > 1e-3


def _with(nets: tuple, index: int = 2, **changes) -> tuple:
    gs = W.Network(nets[index].container, {**nets[index].state, **changes})
    return (*nets[:index], gs, *nets[index + 1 :])


def _set_var(net: W.Network, key: str, value) -> W.Network:
    variables = [(k, value if k == key else v) for k, v in net.state["variables"]]
    return W.Network(net.container, {**net.state, "variables": variables})


def test_unsupported_variants_name_what_was_found() -> None:
    sg2 = W.stylegan2(seed=1)
    cases = {
        "custom": (_with(sg2, build_func_name="G_my_fancy_net"), "named 'G_my_fancy_net'"),
        "version": (_with(sg2, version=9), "container version 9"),
        "four": ((*sg2, sg2[0]), "4 networks"),
        "kwarg": (_with(sg2, static_kwargs={**sg2[2].state["static_kwargs"], "use_magic": 1}), "use_magic"),
        "nonlinearity": (
            _with(sg2, static_kwargs={**sg2[2].state["static_kwargs"], "nonlinearity": "swish"}),
            "nonlinearity='swish'",
        ),
        "arch-mismatch": (
            _with(sg2, static_kwargs={**sg2[2].state["static_kwargs"], "architecture": "resnet"}),
            "say architecture 'resnet' but the variables describe 'skip'",
        ),
        "tfutil-stylegan": (
            _with(W.progan(seed=1), build_func_name="G_style"),
            "tfutil.Network built by 'G_style'",
        ),
    }
    syn = sg2[2].component("synthesis")
    revised = W.Network(syn.container, {**syn.state, "build_func_name": "G_synthesis_stylegan_revised"})
    comps = {**sg2[2].state["components"], "synthesis": revised}
    cases["revised"] = (_with(sg2, components=comps), "'G_synthesis_stylegan_revised'")
    extra = W.Network(
        syn.container, {**syn.state, "variables": [*syn.state["variables"], ("Mystery/w", np.ones(2))]}
    )
    cases["extra-var"] = (_with(sg2, components={**comps, "synthesis": extra}), "synthesis/Mystery/w")
    mapping = sg2[2].component("mapping")
    concat = [*mapping.state["variables"], ("LabelConcat/weight", np.ones((2, 8), np.float32))]
    concat_mapping = W.Network(mapping.container, {**mapping.state, "variables": concat})
    cases["labelconcat"] = (
        _with(sg2, components={**sg2[2].state["components"], "mapping": concat_mapping}),
        "'LabelConcat' label input",
    )
    for label, (nets, fragment) in cases.items():
        with pytest.raises(UnsupportedFormat) as info:
            load_model_bytes(W.dumps(nets), f"{label}.pkl")
        assert fragment in str(info.value) and f"{label}.pkl" in str(info.value), (label, str(info.value))


def test_corrupt_variables_are_refused_with_the_variable_named() -> None:
    sg1 = W.stylegan1(seed=2)
    syn = sg1[2].component("synthesis")
    bad_shape = _set_var(syn, "8x8/Conv1/weight", np.zeros((3, 3, 5, 16), np.float32))
    nan = np.full((16,), np.nan, np.float32)
    for label, comp, fragment in [
        ("shape", bad_shape, "'synthesis/8x8/Conv1/weight' has shape (3, 3, 5, 16)"),
        ("nan", _set_var(syn, "8x8/Conv1/bias", nan), "'8x8/Conv1/bias' holds NaN"),
        ("text", _set_var(syn, "8x8/Conv1/bias", "not numbers"), "'8x8/Conv1/bias' is not a numeric array"),
    ]:
        nets = _with(sg1, components={**sg1[2].state["components"], "synthesis": comp})
        with pytest.raises(CorruptModelFile) as info:
            load_model_bytes(W.dumps(nets), f"{label}.pkl")
        assert fragment in str(info.value), str(info.value)
    stripped = W.Network(sg1[2].container, {k: v for k, v in sg1[2].state.items() if k != "build_func_name"})
    with pytest.raises(CorruptModelFile, match="lacks its name, build function or kwargs"):
        load_model_bytes(W.dumps((sg1[0], sg1[1], stripped)), "nofunc.pkl")


def test_build_module_source_is_never_executed(tmp_path: Path) -> None:
    sentinel = tmp_path / "ran.txt"
    src = f"open({str(sentinel)!r}, 'w').write('code from the pickle ran')\ndef G_main(*a, **k): pass\n"
    for build in (W.stylegan2, W.stylegan1, W.progan):
        loaded = load_model_bytes(W.dumps(build(seed=1, source=src)), "hostile.pkl")
        _render(loaded.generator, np.zeros((1, loaded.generator.z_dim)) + 0.5)
        assert not sentinel.exists()


def test_snapshot_files_are_found_and_described_by_the_cli(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from latentwalk.cli import main

    run = tmp_path / "models" / "faces-tf"
    run.mkdir(parents=True)
    (run / "network-snapshot-000480.pkl").write_bytes(W.dumps(W.stylegan1(seed=3, lod=1.0)))
    (run / "network-snapshot-000240.pkl").write_bytes(W.dumps(W.stylegan1(seed=4)))
    res = CliRunner().invoke(main, ["--models-dir", str(tmp_path / "models"), "info", "faces-tf"])
    assert res.exit_code == 0, res.output
    assert "NVIDIA TensorFlow pickle (StyleGAN)" in res.output and "stylegan1" in res.output
    assert "dnnlib.tflib.network.Network version 3" in res.output and "stored lod 1" in res.output
    out = tmp_path / "out"
    args = ["--models-dir", str(tmp_path / "models"), "generate", "--network", "faces-tf@000480"]
    res = CliRunner().invoke(main, [*args, "--seeds", "0-1", "--trunc", "0.7", "--outdir", str(out)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["seed0000.png", "seed0001.png"]
    model = load_model_file(run / "network-snapshot-000480.pkl")
    assert model.info["stored_lod"] == 1.0 and model.info["rendered_lod"] == 0.0


def test_the_engine_renders_them_like_any_model(tmp_path: Path, worker) -> None:
    """What the explorer does: info, z renders, the mapping, renders from ws (w space only)."""
    from latentwalk.catalog import ModelRef
    from latentwalk.render.worker import RenderRequest

    for build, has_w in [(W.stylegan2, True), (W.stylegan1, True), (W.progan, False)]:
        path = tmp_path / f"{build.__name__}.pkl"
        path.write_bytes(W.dumps(build(seed=2)))
        ref = ModelRef(name=build.__name__, path=path)
        info = worker.info(ref)
        assert info.has_w is has_w and info.resolution == 16 and "TensorFlow" in info.details["format"]
        z = np.random.RandomState(0).randn(2, info.z_dim).astype(np.float32)
        images = worker.render(RenderRequest(ref, z=z, psi=0.7))
        assert images.shape == (2, 16, 16, 3) and images.dtype == np.uint8 and images.std() > 5
        np.testing.assert_array_equal(images, worker.render(RenderRequest(ref, z=z, psi=0.7)))
        if has_w:
            ws = worker.map(ref, z, psi=0.7)
            assert ws.shape == (2, info.num_ws, info.w_dim)
            np.testing.assert_array_equal(images, worker.render(RenderRequest(ref, ws=ws)))


def test_only_the_network_class_of_the_tf_modules_is_allowed() -> None:
    from latentwalk.errors import UnsafeModelFile

    for module, name in [("tfutil", "import_obj"), ("dnnlib.tflib.network", "exec"), ("dnnlib.tflib", "run")]:
        data = b"\x80\x03c" + f"{module}\n{name}\n".encode() + b")R."  # call module.name()
        with pytest.raises(UnsafeModelFile, match=f"'{module}.{name}'"):
            load_model_bytes(data, "evil.pkl")
