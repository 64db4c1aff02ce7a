"""Entry-point discovery: first-party plugins, a third-party distribution, broken and duplicate ones."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pygan import plugins
from pygan.plugins import ARCHITECTURES, DATASETS, PluginError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_registry():
    plugins.refresh()
    yield
    plugins.refresh()


def fake_distribution(where: Path, name: str, entry_points: str, modules: dict[str, str] | None = None) -> None:
    """Writes an installed distribution (dist-info + modules) into `where`, a sys.path entry."""
    info = where / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    for module, source in (modules or {}).items():
        (where / f"{module}.py").write_text(source)


def test_first_party_plugins_are_discovered_through_entry_points():
    archs, datasets = plugins.discover(ARCHITECTURES), plugins.discover(DATASETS)
    assert {"dcgan", "mlp"} <= set(archs)
    assert {"faces", "image-folder", "ring8", "grid25"} <= set(datasets)
    assert archs["dcgan"].distribution == "pygan"
    assert isinstance(plugins.get_architecture("dcgan"), plugins.Architecture)
    assert isinstance(plugins.get_dataset("ring8"), plugins.Dataset)


def test_listing_does_not_import_plugin_modules():
    code = ("import sys; from pygan import plugins; plugins.discover(plugins.ARCHITECTURES); "
            "plugins.discover(plugins.DATASETS); print(any(m.startswith('pygan_plugins.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_names_list_the_installed_ones():
    with pytest.raises(PluginError, match=r"unknown architecture 'nope'; installed architectures: .*dcgan.*mlp"):
        plugins.get_architecture("nope")
    with pytest.raises(PluginError, match=r"unknown dataset 'nope'; installed datasets: .*faces"):
        plugins.get_dataset("nope")


def test_broken_plugins_are_reported_and_the_others_keep_working(tmp_path, monkeypatch):
    fake_distribution(
        tmp_path, "pygan-broken",
        "[pygan.architectures]\nghost = pygan_no_such_module:Arch\nhollow = pygan_hollow:NotAnArch\n"
        "[pygan.datasets]\nexploding = pygan_exploding:Data\n",
        {"pygan_hollow": "class NotAnArch:\n    pass\n",
         "pygan_exploding": "raise ImportError('needs a library that is not installed')\n"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.refresh()
    rows = {r.name: r for r in plugins.check_all()}
    assert rows["ghost"].status == "broken" and "failed to import" in rows["ghost"].reason
    assert "ModuleNotFoundError" in rows["ghost"].reason
    assert rows["hollow"].status == "broken" and "breaks the contract" in rows["hollow"].reason
    assert "accepts" in rows["hollow"].reason and "build" in rows["hollow"].reason
    assert rows["exploding"].status == "broken" and "needs a library" in rows["exploding"].reason
    assert rows["exploding"].distribution == "pygan-broken"
    assert rows["dcgan"].status == "ok" and rows["faces"].status == "ok"
    with pytest.raises(PluginError, match="ghost"):
        plugins.get_architecture("ghost")
    assert plugins.get_architecture("dcgan") is not None


def test_two_plugins_with_one_name_are_reported_not_overwritten(tmp_path, monkeypatch):
    fake_distribution(tmp_path, "pygan-impostor", "[pygan.architectures]\nmlp = pygan_impostor:Arch\n",
                      {"pygan_impostor": "class Arch:\n    pass\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.refresh()
    either_order = r"(pygan .*pygan-impostor|pygan-impostor .*and pygan )"
    with pytest.raises(PluginError, match=rf"'mlp' is registered twice: by {either_order}"):
        plugins.get_architecture("mlp")
    row = next(r for r in plugins.check_all() if r.name == "mlp")
    assert row.status == "broken" and "registered twice" in row.reason


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory):
    """pip-installs the stand-alone example distribution plugins/pygan-resnet into a target dir."""
    target, source = tmp_path_factory.mktemp("site"), tmp_path_factory.mktemp("src") / "pygan-resnet"
    shutil.copytree(ROOT / "plugins" / "pygan-resnet", source)  # builds happen in the copy, not the repo
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True)
    return target


def test_third_party_distribution_appears_and_builds_working_models(installed_example, monkeypatch):
    monkeypatch.syspath_prepend(str(installed_example))
    plugins.refresh()
    info = plugins.discover(ARCHITECTURES)["resnet"]
    assert (info.distribution, info.version) == ("pygan-resnet", "0.1.0")
    arch = plugins.get_architecture("resnet")
    spec = plugins.DataSpec((3, 32, 32))
    assert arch.accepts(spec) is None
    assert "images" in arch.accepts(plugins.DataSpec((2,), None))
    options = plugins.resolve_options("resnet", arch.options, {"width": "16"})
    models = arch.build(spec, options)
    z = arch.sample_latent(4, spec, options)
    fake = models.generator(z)
    assert fake.shape == (4, 3, 32, 32) and fake.min() >= -1 and fake.max() <= 1
    logits = models.discriminator(fake)
    assert logits.shape == (4,)
    from pygan.ops import generator_loss

    generator_loss(logits).loss.backward()
    assert all(p.grad is not None for p in models.generator.parameters())


def test_the_third_party_example_is_class_conditional_on_labelled_data(installed_example, monkeypatch):
    monkeypatch.syspath_prepend(str(installed_example))
    plugins.refresh()
    arch = plugins.get_architecture("resnet")
    assert arch.conditional
    spec = plugins.DataSpec((1, 16, 16), (-1.0, 1.0), ("a", "b", "c"))
    options = plugins.resolve_options("resnet", arch.options, {"width": "8"})
    models = arch.build(spec, options)
    z = arch.sample_latent(6, spec, options)
    a, c = torch.zeros(6, dtype=torch.long), torch.full((6,), 2, dtype=torch.long)
    assert not torch.equal(models.generator(z, a), models.generator(z, c))
    x = models.generator(z, a).detach()
    assert not torch.equal(models.discriminator(x, a), models.discriminator(x, c))


def test_third_party_distribution_in_the_cli(installed_example):
    env = {**os.environ, "PYTHONPATH": f"{installed_example}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = subprocess.run([sys.executable, "-m", "pygan", "plugins", "list", "--json"], env=env,
                         capture_output=True, text=True, check=True)
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["resnet"]["distribution"] == "pygan-resnet" and rows["resnet"]["status"] == "ok"
    assert rows["dcgan"]["status"] == "ok"


def test_options_are_validated_against_the_declared_ones():
    arch = plugins.get_architecture("dcgan")
    resolved = plugins.resolve_options("dcgan", arch.options, {"ngf": "32"})
    assert resolved == {"latent_dim": 100, "ngf": 32, "ndf": 64, "spectral_norm": False}
    with pytest.raises(PluginError, match=r"unknown option 'width'; its options are: latent-dim, ndf, ngf"):
        plugins.resolve_options("dcgan", arch.options, {"width": 3})
    with pytest.raises(PluginError, match="option 'ngf' expects int, got 'wide'"):
        plugins.resolve_options("dcgan", arch.options, {"ngf": "wide"})
    flip = plugins.resolve_options("faces", plugins.get_dataset("faces").options, {"flip": "no"})["flip"]
    assert flip is False
    assert torch.is_tensor(plugins.get_dataset("ring8").load({"size": 10, "seed": 0})[0])
