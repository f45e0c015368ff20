"""`latentwalk directions ...`: find (pca, fit), list, export and import directions from the shell."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from latentwalk.catalog import resolve
from latentwalk.directions.axes import feature_scorer, fit_axes
from latentwalk.directions.classifier import load_classifier
from latentwalk.directions.features import FEATURES
from latentwalk.directions.pca import pca_directions
from latentwalk.directions.store import DirectionStore
from latentwalk.directions.vectors import Direction
from latentwalk.errors import InvalidRequest
from latentwalk.render.worker import InferenceWorker


def _progress_bar() -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


def _store(obj: Any) -> DirectionStore:
    return DirectionStore(obj.settings.data_dir / "directions")


def _report(found: list[Direction], info_name: str) -> None:
    for d in found:
        stats = ", ".join(
            f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in d.stats.items()
            if isinstance(v, int | float)
        )
        click.echo(f"{d.name:20s} {d.method:10s} {d.space}  std {d.std:.3g}  {stats}")
    click.echo(f"saved {len(found)} direction(s) for {info_name}")


@click.group("directions")
def directions() -> None:
    """Named directions in latent space: find them (PCA, attribute fits), list, share."""


@directions.command("pca")
@click.option("--network", required=True, help="Model file path or a model name.")
@click.option("--samples", type=int, default=20_000, show_default=True, help="Latents to sample.")
@click.option("--components", type=int, default=32, show_default=True, help="Principal components to keep.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_obj
def pca_cmd(obj: Any, network: str, samples: int, components: int, seed: int) -> None:
    """GANSpace: principal directions of w (or of an early layer, regressed onto z), saved as pc0, pc1..."""
    ref = resolve(network, obj.settings.models_dirs)
    with obj.worker() as worker, _progress_bar() as bar:
        info = worker.info(ref)
        task = bar.add_task(f"PCA {info.name}", total=samples)
        found = pca_directions(
            worker,
            ref,
            samples,
            components,
            seed,
            progress=lambda d, t: bar.update(task, completed=d, total=t),
        )
    _store(obj).put(info, found)
    _report(found, info.name)


@directions.command("fit")
@click.option("--network", required=True, help="Model file path or a model name.")
@click.option(
    "--feature", "features", multiple=True, help=f"Built-in feature (repeatable): {', '.join(FEATURES)}."
)
@click.option(
    "--classifier", type=click.Path(path_type=Path), help="An ONNX classifier: one axis per output."
)
@click.option(
    "--trust-classifier", is_flag=True, help="Allow a TorchScript classifier (it is code: trust it)."
)
@click.option("--samples", type=int, default=2000, show_default=True, help="Latents to render and score.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--cluster", default=None, help="Render and score the samples on a Ray cluster: auto or ray://HOST:PORT."
)
@click.option(
    "--workers", type=click.IntRange(1, 4096), default=None, help="With --cluster: actors to start."
)
@click.pass_obj
def fit_cmd(
    obj: Any,
    network: str,
    features: tuple[str, ...],
    classifier: Path | None,
    trust_classifier: bool,
    samples: int,
    seed: int,
    cluster: str | None,
    workers: int | None,
) -> None:
    """Attribute axes: render samples, score each image, fit a ridge regression latent -> score."""
    if bool(features) == bool(classifier):
        raise InvalidRequest("give either --feature (one or more) or --classifier")
    names = [n for f in features for n in f.split(",") if n]
    if classifier is not None:
        scorer = load_classifier(classifier, trusted=trust_classifier).scores
        method = "classifier"
    else:
        scorer = feature_scorer(names)
        method = "feature"
    ref = resolve(network, obj.settings.models_dirs)
    worker: InferenceWorker
    with (
        obj.worker() as worker,
        _farm_scores(obj, cluster, workers, ref, names, classifier, trust_classifier) as remote,
    ):
        info = worker.info(ref)
        with _progress_bar() as bar:
            task = bar.add_task(f"fit {info.name}", total=samples + 1)
            found = fit_axes(
                worker,
                ref,
                scorer,
                method,
                samples,
                seed,
                progress=lambda d, t: bar.update(task, completed=d, total=t),
                score_samples=remote,
            )
    _store(obj).put(info, found)
    _report(found, info.name)


@contextlib.contextmanager
def _farm_scores(
    obj: Any,
    cluster: str | None,
    workers: int | None,
    ref: Any,
    features: list[str],
    classifier: Path | None,
    trusted: bool,
) -> Iterator[Any]:
    """With --cluster, a `score_samples` that renders and scores on the render farm; else None."""
    if cluster is None:
        yield None
        return
    from latentwalk.cluster.job import Cluster
    from latentwalk.cluster.samples import scorer_for, scores_on_cluster

    spec, data = scorer_for(tuple(features), classifier, trusted)
    with Cluster(cluster, workers=workers, cache_dir=obj.settings.cache_dir) as farm:
        yield scores_on_cluster(farm, ref, spec, data)


@directions.command("list")
@click.option("--network", required=True, help="Model file path or a model name.")
@click.pass_obj
def list_cmd(obj: Any, network: str) -> None:
    """The directions saved for a model."""
    ref = resolve(network, obj.settings.models_dirs)
    with obj.worker() as worker:
        info = worker.info(ref)
    found = _store(obj).list(info)
    if not found:
        click.echo(f"no directions for {info.name} yet: try `latentwalk directions pca --network {network}`")
    for d in found:
        layers = f"  layers {d.layers[0]}..{d.layers[1] - 1}" if d.layers else ""
        click.echo(f"{d.name:20s} {d.method:10s} {d.space}  std {d.std:.3g}{layers}")


@directions.command("export")
@click.option("--network", required=True, help="Model file path or a model name.")
@click.option("--name", "names", multiple=True, help="Only these directions (repeatable).")
@click.argument("out", type=click.Path(path_type=Path))
@click.pass_obj
def export_cmd(obj: Any, network: str, names: tuple[str, ...], out: Path) -> None:
    """Write a model's directions to one .npz file to share."""
    ref = resolve(network, obj.settings.models_dirs)
    with obj.worker() as worker:
        info = worker.info(ref)
    data = _store(obj).export_bytes(info, list(names) or None)
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise InvalidRequest(f"cannot write {out}: {exc.strerror}") from None
    click.echo(f"wrote {out}")


@directions.command("import")
@click.option("--network", required=True, help="Model file path or a model name.")
@click.option("--replace", is_flag=True, help="Replace directions of the same name.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def import_cmd(obj: Any, network: str, replace: bool, file: Path) -> None:
    """Add the directions of an exported .npz file to a model."""
    ref = resolve(network, obj.settings.models_dirs)
    with obj.worker() as worker:
        info = worker.info(ref)
    names = _store(obj).import_bytes(info, file.read_bytes(), replace=replace)
    click.echo(f"imported {len(names)} direction(s): {', '.join(names)}")
