"""The configuration: every value checked by its field's type and range, unset values left out of TOML."""

from __future__ import annotations

import dataclasses

import pytest

from pygan.errors import PyganError
from pygan.plugins import Option, PluginError, get_dataset, resolve_options
from pygan.training import config as cfg
from pygan.training.config import Config, ConfigError


def _load(tmp_path, text: str) -> Config:
    file = tmp_path / "run.toml"
    file.write_text(text, encoding="utf-8")
    return cfg.load(file)


@pytest.mark.parametrize(("toml", "message"), [
    ('[train]\ncompile = "false"\n', "[train] compile must be bool (true or false), got 'false' (str)"),
    ("[train]\nlr = true\n", "[train] lr must be float (a number), got True (bool)"),
    ("[train]\nepochs = true\n", "[train] epochs must be int (a whole number), got True (bool)"),
    ("[train]\nepochs = 2.5\n", "[train] epochs must be int (a whole number), got 2.5 (float)"),
    ("[train]\nseed = \"7\"\n", "[train] seed must be int"),
    ("[train]\ndevice = 0\n", "[train] device must be str (a quoted string), got 0 (int)"),
    ("[data]\noptions = 5\n", "[data] options must be a table, got 5 (int)"),
    ("[output]\nlog_every = false\n", "[output] log_every must be int"),
])
def test_toml_values_of_the_wrong_type_are_refused_with_section_key_and_type(tmp_path, message, toml):
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, toml)
    assert message in str(error.value) and "run.toml" in str(error.value)


def test_an_int_is_accepted_for_a_float_and_stored_as_one(tmp_path):
    config = _load(tmp_path, "[train]\nlr = 1\nema = 0\n")
    assert config.train.lr == 1.0 and isinstance(config.train.lr, float)
    assert isinstance(config.train.ema, float)


def test_every_field_is_checked_by_its_annotation():
    """The checker reads the dataclasses' annotations: every field, including ones added later, refuses
    a value of another type."""
    config = Config()
    for section in ("data", "model", "train", "output"):
        for f in dataclasses.fields(getattr(config, section)):
            wrong = 1 if "str" in str(f.type) else "text"
            with pytest.raises(ConfigError, match=rf"\[{section}\] {f.name} must be"):
                cfg.apply_overrides(Config(), section, {f.name: wrong})


def test_validate_checks_types_set_from_python():
    config = Config()
    config.train.compile = "false"
    with pytest.raises(ConfigError, match=r"\[train\] compile must be bool"):
        config.validate()


def test_a_toml_bool_is_not_a_number_for_plugin_options():
    ring8 = get_dataset("ring8")
    with pytest.raises(PluginError, match="ring8: option 'size' expects int, got True"):
        resolve_options("ring8", ring8.options, {"size": True})
    assert resolve_options("ring8", ring8.options, {"size": "300"})["size"] == 300  # the CLI's text
    flag = Option("flip", bool)
    with pytest.raises(PluginError, match="expects bool, got 1"):
        flag.parse(1, "faces")
    assert flag.parse("true", "faces") is True and flag.parse("0", "faces") is False and flag.parse(False, "x") is False
    with pytest.raises(PluginError, match="expects float, got False"):
        Option("scale", float).parse(False, "x")
    assert Option("scale", float).parse(2, "x") == 2.0


def test_a_non_utf8_toml_file_is_refused_naming_the_file(tmp_path):
    file = tmp_path / "latin1.toml"
    file.write_bytes('[train]\nloss = "s\u00e4turating"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1\.toml: not UTF-8 text"):
        cfg.load(file)


def test_unset_optimiser_settings_are_none_and_left_out_of_toml(tmp_path):
    t = Config().train
    assert (t.lr, t.beta1, t.beta2, t.lr_decay) == (None, None, None, None)
    text = cfg.dumps(Config())
    assert not any(line.split(" = ")[0] in {"lr", "beta1", "beta2", "lr_decay"} for line in text.splitlines())
    assert _load(tmp_path, text) == Config()
    config = Config()
    config.train.lr, config.train.beta1 = 1e-3, 0.0
    again = _load(tmp_path, cfg.dumps(config)).train
    assert (again.lr, again.beta1, again.beta2) == (1e-3, 0.0, None)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("beta1", 5.0, r"beta1 \(Adam's first-moment decay\) must lie in \[0, 1\)"),
    ("beta2", 1.0, r"beta2 \(Adam's second-moment decay\) must lie in \[0, 1\)"),
    ("beta1", -0.1, "beta1"),
    ("lr", 0.0, "--lr must be a finite number > 0"),
    ("lr", float("inf"), "--lr must be a finite number > 0"),
    ("lr_decay", 1.5, "--lr-decay is a share of training in"),
    ("lr_decay", -1.0, "--lr-decay is a share of training in"),
    ("seed", -1, r"--seed must be an integer in \[0, 4294967295\]"),
    ("seed", 2**63 - 1, r"--seed must be an integer in \[0, 4294967295\]"),
    ("seed", 2**70, r"--seed must be an integer in \[0, 4294967295\]"),
    ("device", "cudax", r"--device must be auto, cpu, cuda or cuda:N .*got 'cudax'"),
    ("device", "cuda:abc", r"--device must be auto, cpu, cuda or cuda:N .*got 'cuda:abc'"),
    ("device", "cuda:", "--device must be"),
])
def test_out_of_range_values_are_refused(key, value, message):
    config = Config()
    setattr(config.train, key, value)
    with pytest.raises(ConfigError, match=message):
        config.validate()


@pytest.mark.parametrize(("key", "value"), [("seed", cfg.MAX_SEED), ("seed", 0), ("device", "cuda:1"),
                                            ("device", "cpu"), ("beta1", 0.0), ("lr_decay", 0.0)])
def test_values_at_the_edges_of_their_range_are_accepted(key, value):
    config = Config()
    setattr(config.train, key, value)
    config.validate()


def test_every_user_error_shares_one_base_class():
    from pygan.data.image_files import ImageFolderError
    from pygan.training.checkpoint import CheckpointError

    for error in (ConfigError, PluginError, CheckpointError, ImageFolderError):
        assert issubclass(error, PyganError)
    assert issubclass(ConfigError, ValueError) and issubclass(PluginError, RuntimeError)  # old except clauses
