"""setup.py and CMakeLists.txt build the same sources: CI compiles the extension with setup.py and
only configures the CMake build, so a file listed in one and missing from the other shows here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup_lists() -> dict[str, set[str]]:
    tree = ast.parse((ROOT / "setup.py").read_text())
    lists = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.List):
            name = node.targets[0].id if isinstance(node.targets[0], ast.Name) else None
            if name in {"ISA_KERNELS", "COMMON_SOURCES", "CUDA_SOURCES"}:
                lists[name] = {ast.literal_eval(e) for e in node.value.elts}
    return lists


def _cmake_sources() -> dict[str, set[str]]:
    text = (ROOT / "CMakeLists.txt").read_text()
    isa = re.search(r"set\(PYGAN_ISA_KERNELS([^)]*)\)", text).group(1).split()
    common = re.search(r"set\(PYGAN_SOURCES([^)]*)\)", text).group(1).split()
    cuda = re.search(r"list\(APPEND PYGAN_SOURCES([^)]*)\)", text).group(1).split()
    return {"ISA_KERNELS": set(isa), "COMMON_SOURCES": set(common), "CUDA_SOURCES": set(cuda)}


def test_setup_py_and_cmake_list_the_same_sources():
    setup, cmake = _setup_lists(), _cmake_sources()
    assert set(setup) == {"ISA_KERNELS", "COMMON_SOURCES", "CUDA_SOURCES"}
    for name in setup:
        assert setup[name] == cmake[name], name


def test_every_source_file_is_built():
    listed = set().union(*_setup_lists().values())
    on_disk = {str(p.relative_to(ROOT)) for ext in ("*.cpp", "*.cu") for p in (ROOT / "csrc").rglob(ext)}
    assert on_disk == listed
    assert all((ROOT / f).is_file() for f in listed)
