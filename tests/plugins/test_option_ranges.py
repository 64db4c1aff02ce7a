"""Plugin options declare their valid range; resolve_options refuses a value outside it, naming all four."""

from __future__ import annotations

import math

import pytest
from typer.testing import CliRunner

from pygan import plugins
from pygan.cli import app
from pygan.plugins import Option, PluginError


def declared(plugin: str) -> tuple[Option, ...]:
    getter = plugins.get_architecture if plugin in {"dcgan", "mlp"} else plugins.get_dataset
    return getter(plugin).options


@pytest.mark.parametrize(("plugin", "option", "value", "valid"), [
    ("faces", "repeat", 0, ">= 1"),
    ("faces", "channels", 0, "one of 1, 3"),
    ("faces", "channels", 2, "one of 1, 3"),
    ("faces", "image-size", 0, "in [1, 4096]"),
    ("faces", "image-size", -4, "in [1, 4096]"),
    ("image-folder", "image-size", 0, "in [1, 4096]"),
    ("image-folder", "channels", 4, "one of 1, 3"),
    ("ring8", "size", 0, ">= 1"),
    ("grid25", "size", -1, ">= 1"),
    ("ring8", "seed", 2**64, "in [-9223372036854775808, 18446744073709551615]"),
    ("mlp", "hidden", 0, "in [1, 16384]"),
    ("mlp", "layers", 0, "in [1, 64]"),
    ("mlp", "latent-dim", -1, "in [0, 4096]"),
    ("dcgan", "latent-dim", 0, "in [1, 4096]"),
    ("dcgan", "latent-dim", -5, "in [1, 4096]"),
    ("dcgan", "ngf", 0, "in [1, 1024]"),
    ("dcgan", "ngf", -1, "in [1, 1024]"),
    ("dcgan", "ngf", 100_000, "in [1, 1024]"),
    ("dcgan", "ndf", 0, "in [1, 1024]"),
])
def test_a_value_out_of_range_names_plugin_option_range_and_value(plugin, option, value, valid):
    with pytest.raises(PluginError) as caught:
        plugins.resolve_options(plugin, declared(plugin), {option: str(value)})  # as typed on the command line
    assert str(caught.value).startswith(f"{plugin}: option '{option}' must be {valid}, got {value}")


@pytest.mark.parametrize("plugin", ["faces", "image-folder", "ring8", "grid25", "mlp", "dcgan"])
def test_defaults_and_bounds_themselves_are_accepted(plugin):
    options = declared(plugin)
    for option in options:
        assert option.check(option.default, plugin) == option.default
    resolved = plugins.resolve_options(plugin, options, {})
    assert resolved == {o.name.replace("-", "_"): o.default for o in options}  # semantics unchanged
    for option in options:
        for bound in (option.min, option.max, *(option.choices or ())):
            if bound is not None:
                key = option.name.replace("-", "_")
                assert plugins.resolve_options(plugin, options, {option.name: str(bound)})[key] == bound


def test_option_bounds_in_words_and_nan_refused():
    assert Option("p", float, 0.5, min=0.0, max=1.0).valid_range() == "in [0.0, 1.0]"
    assert Option("n", int, 1, max=9).valid_range() == "<= 9"
    assert Option("free", int, 1).valid_range() == ""
    with pytest.raises(PluginError, match=r"option 'p' must be in \[0\.0, 1\.0\], got nan"):
        plugins.resolve_options("x", (Option("p", float, 0.5, min=0.0, max=1.0),), {"p": math.nan})
    assert plugins.resolve_options("x", (Option("k", str, None, choices=("a", "b")),), {"k": "b"}) == {"k": "b"}


@pytest.mark.parametrize(("args", "message"), [
    (["--image-size", "0"], "faces: option 'image-size' must be in [1, 4096], got 0"),
    (["--image-size", "-4"], "faces: option 'image-size' must be in [1, 4096], got -4"),
    (["--arch-option", "ngf=100000"], "dcgan: option 'ngf' must be in [1, 1024], got 100000"),
])
def test_the_cli_refuses_them_in_one_line(args, message, tmp_path):
    result = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "run"), *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()
