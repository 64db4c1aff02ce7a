"""Help that reads well at 80 columns, and `pygan --help` / `--version` without importing torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from pygan.cli import app

runner = CliRunner()
COMMANDS = [[], ["train"], ["sample"], ["evaluate"], ["info"], ["plugins"], ["plugins", "list"], ["bench"],
            ["bench", "train"], ["bench", "quality"]]


def _help(command: list[str]) -> str:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.output


def _command(path: list[str]):
    command = get_command(app)
    for name in path:
        command = command.commands[name]
    return command


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "pygan")
def test_help_fits_80_columns_with_no_typer_placeholders(command):
    text = _help(command)
    assert max(len(line) for line in text.splitlines()) <= 80, text
    for placeholder in ("<bool>", "<str>", "<int", "<path>", "<list", "{", "…"):
        assert placeholder not in text, (placeholder, text)


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in ([], ["plugins"], ["bench"])] + [["bench"]],
                         ids=lambda c: " ".join(c))
def test_every_option_name_appears_whole(command):
    text = _help(command)
    names = [opt for param in _command(command).params for opt in (*param.opts, *param.secondary_opts)
             if opt.startswith("-")]
    assert names
    for name in names:
        assert f"{name} " in text or f"{name}\n" in text or f"{name}," in text, (name, text)


def test_train_help_shows_the_config_tables_and_no_flag_placeholders():
    text = _help(["train"])
    assert "[data] [model] [train] [output]" in text
    assert "--channels-last / --no-channels-last" in text
    assert "--checkpoint-every N" in text


def test_usage_lines_name_arguments_plainly():
    assert "Usage: root sample [OPTIONS] RUN\n" in _help(["sample"])
    assert "Usage: root evaluate [OPTIONS] RUN\n" in _help(["evaluate"])


def test_version():
    from pygan import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"pygan {__version__}"


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["train", "--help"]])
def test_help_and_version_do_not_import_torch(args):
    code = ("import json, sys\nfrom pygan.cli import app\n"
            f"try:\n    app({args!r})\nexcept SystemExit as exc:\n    code = exc.code\n"
            "print(json.dumps({'torch': 'torch' in sys.modules, 'code': code}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout.splitlines()[-1]) == {"torch": False, "code": 0}, out.stdout + out.stderr


def test_import_pygan_still_gives_the_ops():
    code = ("import sys\nimport pygan\nassert 'torch' not in sys.modules\n"
            "from pygan import fused_leaky_relu, BatchNormLeakyReLU\nimport torch\n"
            "print(pygan.ops.discriminator_loss is pygan.discriminator_loss, callable(fused_leaky_relu),\n"
            "      hasattr(torch.ops.pygan, 'fused_leaky_relu'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["True", "True", "True"], out.stderr


def test_import_pygan_after_torch_registers_the_raw_ops_at_once():
    code = "import torch\nimport pygan\nprint(hasattr(torch.ops.pygan, 'fused_leaky_relu'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "True", out.stderr
