"""Every `--option` pygan's messages, help and docstrings name is one the command line has: a message
that tells the user to pass a flag that does not exist is a dead end."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest
from typer.main import get_command

import pygan
from pygan.cli import app
from pygan.training import config
from pygan.training.resume import RESUMABLE_OVERRIDES, TOML_ONLY, flag

SOURCE = Path(pygan.__file__).resolve().parent
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9_-]*[a-z0-9]")
# Flags of other programs that pygan's messages name on purpose.
NOT_PYGAN = {
    "--standalone": "torchrun, which `pygan train --nproc` runs",
    "--nproc_per_node": "torchrun",
    "--no-build-isolation": "pip, in the message that says how to build the kernels",
    "--no-deps": "pip, in the message that says how to install the FID Inception weights",
    "--logdir": "tensorboard, which shows a run's --tensorboard events",
}


def _cli_flags(*path: str) -> set[str]:
    """The flags of every command under `pygan PATH...`."""
    flags = {"--help"}  # click adds it to every command, outside its params
    stack = [get_command(app)]
    for name in path:
        stack = [stack[0].commands[name]]
    while stack:
        command = stack.pop()
        for param in command.params:
            flags.update(opt for opt in (*param.opts, *param.secondary_opts) if opt.startswith("--"))
        stack.extend(getattr(command, "commands", {}).values())
    return flags


CLI_FLAGS = _cli_flags()
TRAIN_FLAGS = _cli_flags("train")


def _strings(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def _named_flags() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        for lineno, text in _strings(ast.parse(path.read_text(), str(path))):
            found += [(f"{path.relative_to(SOURCE.parent)}:{lineno}", lineno, f) for f in FLAG.findall(text)]
    return found


def test_the_scan_sees_the_messages():
    named = {f for _, _, f in _named_flags()}
    assert {"--resume", "--batch-size", "--data-dir", "--out"} <= named  # the regex and the walk work
    assert {"--resume", "--version", "--compile", "--no-compile"} <= CLI_FLAGS


def test_every_flag_pygan_names_exists():
    unknown = [f"{where}: {name}" for where, _, name in _named_flags() if name not in CLI_FLAGS | set(NOT_PYGAN)]
    assert not unknown, "flags named in pygan/ that no pygan command has:\n" + "\n".join(unknown)


def test_the_allow_list_holds_only_what_pygan_names():
    named = {f for _, _, f in _named_flags()}
    assert set(NOT_PYGAN) <= named and not set(NOT_PYGAN) & CLI_FLAGS


@pytest.mark.parametrize(("section", "cls"), [("train", config.TrainConfig), ("output", config.OutputConfig)])
def test_every_config_key_names_a_real_flag_or_its_toml_key(section, cls):
    """Messages built from config keys (a resume that would change one) name the flag that sets it."""
    for field in dataclasses.fields(cls):
        named = flag(section, field.name)
        if (section, field.name) in TOML_ONLY:
            assert named == f"[{section}] {field.name}"
            assert f"--{field.name.replace('_', '-')}" not in TRAIN_FLAGS  # else it is no longer TOML only
        else:
            assert named in TRAIN_FLAGS, (section, field.name, named)


def test_the_resume_error_names_only_real_flags():
    from pygan.training.config import ConfigError
    from pygan.training.resume import resumed_config

    state = {"config": dataclasses.asdict(config.Config())}
    with pytest.raises(ConfigError) as caught:
        resumed_config(state, {("train", "regularisers"): ["r1"]}, Path("latest.pt"))
    message = str(caught.value)
    assert message.startswith("--reg cannot change when resuming")
    assert set(FLAG.findall(message)) <= TRAIN_FLAGS
    assert len(FLAG.findall(message)) == 1 + len(RESUMABLE_OVERRIDES)
