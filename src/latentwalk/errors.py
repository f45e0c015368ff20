"""The one exception tree of latentwalk; messages say what was wrong and what to do.

LatentwalkError
├── ModelLoadError            a model file or name could not be turned into a generator
│   ├── ModelNotFound         no file and no built-in model by that name
│   ├── UnsupportedFormat     a file we recognise but cannot (yet) load, or do not recognise
│   ├── UnsafeModelFile       a file that asks to run code or use a global outside the allowlist
│   ├── CorruptModelFile      truncated, inconsistent or malformed content
│   └── ZooDownloadError      a built-in model's weights could not be fetched or verified
├── InvalidRequest            bad user input: seeds, truncation, class, latents, sizes
│   └── InvalidImage          an uploaded picture is no image, damaged, too small or too large
├── RenderError               the generator failed while rendering
├── ExportError               an export could not be written (disk full, permissions, encoder)
├── ExportCancelled           an export was cancelled (its partial output removed)
├── JobCancelled              a long job (a direction search) was cancelled by its caller
├── WorkerStopped             the inference worker is shut down
├── MissingExtra              an optional part (NDI, MIDI, ONNX) needs a package not installed (HTTP 501)
├── ClusterUnavailable        a render farm job cannot start: Ray missing, cluster unreachable (503)
├── NameTaken                 a saved animation or bookmark already has that name (HTTP 409)
├── NameNotFound              no saved animation or bookmark has that name (HTTP 404)
└── StorageError              the library could not be written or read: disk full, permissions
    └── CorruptAnimation      one saved animation is damaged: bad JSON, newer schema, bad latents
"""

from __future__ import annotations


class LatentwalkError(Exception):
    """Root of every error latentwalk raises on purpose."""


class ModelLoadError(LatentwalkError):
    """A model could not be loaded."""


class ModelNotFound(ModelLoadError):
    """No file and no built-in model of that name."""


class UnsupportedFormat(ModelLoadError):
    """The file is of a format or architecture that latentwalk does not load (yet)."""


class UnsafeModelFile(ModelLoadError):
    """The file asks for something outside the allowlist (code execution); nothing was run."""


class CorruptModelFile(ModelLoadError):
    """The file is truncated, malformed or internally inconsistent."""


class ZooDownloadError(ModelLoadError):
    """A built-in model's weights could not be downloaded or did not verify."""


class InvalidRequest(LatentwalkError):
    """The request's parameters are invalid (seeds, truncation, class, latents...)."""


class InvalidImage(InvalidRequest):
    """A picture given to projection or translation cannot be used: not an image, damaged, too small
    or too many pixels."""


class RenderError(LatentwalkError):
    """The generator failed while rendering."""


class WorkerStopped(LatentwalkError):
    """The inference worker has been shut down and takes no more requests."""


class MissingExtra(LatentwalkError):
    """An optional feature needs a package that is not installed; the message names the install command."""


class NameTaken(LatentwalkError):
    """A saved animation or bookmark already has that name; nothing was overwritten."""


class NameNotFound(LatentwalkError):
    """No saved animation or bookmark has that name."""


class StorageError(LatentwalkError):
    """The library could not write or read its files (disk full, permissions); nothing was lost."""


class CorruptAnimation(StorageError):
    """A saved animation's files are damaged or from a newer version; the other animations are fine."""


class ExportError(LatentwalkError):
    """An export could not be written (disk full, permissions, encoder); nothing half-written stays."""


class ExportCancelled(LatentwalkError):
    """The export was cancelled; its partial output was removed."""


class JobCancelled(LatentwalkError):
    """A long job (a direction search) was cancelled by its caller; nothing was stored."""


class ClusterUnavailable(LatentwalkError):
    """A render on a cluster could not start: Ray is not installed, or the cluster cannot be reached."""
