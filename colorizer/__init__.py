"""Colorize and restore black-and-white photographs with a NoGAN-trained U-Net, in Lab.

    from colorizer import Colorizer, save
    save(Colorizer.from_pretrained().colorize("old.jpg"), "colour.png")   # with its provenance
"""

from importlib import import_module

__version__ = "0.1.0"  # written into every result (colorizer.io.provenance)

# Imported on first use, so `python -m colorizer --help` answers without loading torch.
_EXPORTS = {
    "Colorizer": "colorizer.pipelines.colorizer",
    "Generator": "colorizer.models.generator",
    "GeneratorConfig": "colorizer.models.generator",
    "ColorizerError": "colorizer.errors",
    "ImageError": "colorizer.errors",
    "WeightsError": "colorizer.errors",
    "Point": "colorizer.io.hints",
    "Stroke": "colorizer.io.hints",
    "Region": "colorizer.io.hints",
    "HintError": "colorizer.errors",
    "suggest": "colorizer.pipelines.suggest",
    "save": "colorizer.io.provenance",
    "Provenance": "colorizer.io.provenance",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'colorizer' has no attribute {name!r}")
