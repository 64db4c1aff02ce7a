"""pygan.plugin_checks: a plugin that raises or breaks its contract becomes a PluginError naming it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pygan.errors import PyganError
from pygan.plugin_checks import CheckedDataset, check_outputs, checked_build, checked_load, checked_spec
from pygan.plugins import Architecture, Dataset, DataSpec, GanModels, PluginError

SPEC = DataSpec((3, 4, 4))


class Items(torch.utils.data.Dataset):
    """Serves the given items as they are."""

    def __init__(self, items):
        self.items = items
        self.note = "kept"

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        item = self.items[index]
        if isinstance(item, Exception):
            raise item
        return item


class FakeData(Dataset):
    def __init__(self, spec=SPEC, items=None, load_error=None, spec_error=None):
        self._spec, self.items, self.load_error, self.spec_error = spec, items, load_error, spec_error

    def spec(self, options):
        if self.spec_error:
            raise self.spec_error
        return self._spec

    def load(self, options):
        if self.load_error:
            raise self.load_error
        return self.items if isinstance(self.items, Items) or self.items is None else Items(self.items)


class Logits(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return torch.zeros(self.shape)


class FakeArch(Architecture):
    def __init__(self, build=None):
        self._build = build

    def accepts(self, spec):
        return None

    def latent_shape(self, spec, options):
        return (2,)

    def build(self, spec, options):
        return self._build()


# ---------------------------------------------------------------- checked_spec


def test_spec_is_returned_when_it_is_one():
    assert checked_spec("toy", FakeData(), {}) == SPEC


@pytest.mark.parametrize(("plugin", "message"), [
    (FakeData(spec_error=KeyError("size")), "dataset plugin 'toy': spec() failed: KeyError: 'size'"),
    (FakeData(spec=(3, 4, 4)), "dataset plugin 'toy': spec() must return a pygan.plugins.DataSpec, got tuple"),
    (FakeData(spec=None), "spec() must return a pygan.plugins.DataSpec, got NoneType"),
    (FakeData(spec=DataSpec((3, 0, 4))), "spec() gave the shape (3, 0, 4)"),
    (FakeData(spec=DataSpec([3, 4])), "spec() gave the shape [3, 4]"),
    (FakeData(spec=DataSpec((2,), (1.0, -1.0))), "spec() gave the value range (1.0, -1.0)"),
])
def test_a_spec_that_raises_or_is_no_dataspec_names_the_plugin(plugin, message):
    with pytest.raises(PluginError) as caught:
        checked_spec("toy", plugin, {})
    assert message in str(caught.value)


def test_a_user_error_a_plugin_raises_on_purpose_passes_through():
    class Missing(PyganError):
        pass

    with pytest.raises(Missing, match="no such folder"):
        checked_spec("toy", FakeData(spec_error=Missing("no such folder")), {})
    with pytest.raises(Missing, match="no such folder"):
        checked_load("toy", FakeData(load_error=Missing("no such folder")), {}, SPEC)


# ---------------------------------------------------------------- checked_load


def test_good_items_come_back_unchanged_and_attributes_are_forwarded():
    items = [torch.randn(3, 4, 4) for _ in range(3)]
    data = checked_load("toy", FakeData(items=items), {}, SPEC)
    assert isinstance(data, CheckedDataset) and len(data) == 3
    assert all(data[i] is items[i] for i in range(3))  # the same tensors: training is bit-identical
    assert data.note == "kept" and data.items is not None
    assert len(list(data)) == 3  # iteration stops at the end
    batch = next(iter(torch.utils.data.DataLoader(data, batch_size=3)))
    assert torch.equal(batch, torch.stack(items))
    assert torch.float64 == checked_load("toy", FakeData(items=[items[0].double()]), {}, SPEC)[0].dtype


@pytest.mark.parametrize(("item", "message"), [
    (None, "dataset plugin 'toy': item 1 is None; expected one floating-point tensor of shape (3, 4, 4)"),
    ([torch.zeros(3, 4, 4), 0], "item 1 is a list of 2; expected one floating-point tensor"),
    ((torch.zeros(3, 4, 4), 0), "item 1 is a tuple of 2"),
    ("text", "item 1 is a str; expected one floating-point tensor of shape (3, 4, 4)"),
    (torch.zeros(3, 4, 4, dtype=torch.uint8), "item 1 is a tensor of dtype torch.uint8; expected one floating"),
    (torch.zeros(3, 5, 4), "item 1 has shape (3, 5, 4); expected one floating-point tensor of shape (3, 4, 4)"),
    (torch.zeros(1, 3, 4, 4), "item 1 has shape (1, 3, 4, 4)"),
    (ValueError("bad row"), "dataset plugin 'toy': item 1 failed: ValueError: bad row"),
    (IndexError("inner"), "dataset plugin 'toy': item 1 failed: IndexError: inner"),
])
def test_a_bad_item_names_the_plugin_the_index_and_what_was_expected(item, message):
    data = checked_load("toy", FakeData(items=[torch.zeros(3, 4, 4), item]), {}, SPEC)
    assert data[0].shape == (3, 4, 4)
    with pytest.raises(PluginError) as caught:
        data[1]
    assert message in str(caught.value)


def test_items_of_varying_shapes_are_caught_at_the_first_odd_one():
    data = checked_load("toy", FakeData(spec=DataSpec((2,), None),
                                        items=[torch.zeros(2), torch.zeros(2), torch.zeros(3)]), {}, DataSpec((2,)))
    with pytest.raises(PluginError, match=r"item 2 has shape \(3,\); expected one floating-point tensor of shape \(2"):
        next(iter(torch.utils.data.DataLoader(data, batch_size=3)))


@pytest.mark.parametrize(("plugin", "message"), [
    (FakeData(load_error=OSError("disk gone")), "dataset plugin 'toy': load() failed: OSError: disk gone"),
    (FakeData(items=[]), "dataset plugin 'toy': load() returned an empty dataset (0 samples)"),
    (FakeData(items=None), "dataset plugin 'toy': load() must return a map-style torch Dataset"),
])
def test_a_load_that_raises_is_empty_or_is_no_dataset_names_the_plugin(plugin, message):
    with pytest.raises(PluginError) as caught:
        checked_load("toy", plugin, {}, SPEC)
    assert message in str(caught.value)


# ---------------------------------------------------------------- checked_build


def test_build_returns_the_models():
    models = GanModels(nn.Linear(2, 2), nn.Linear(2, 1))
    assert checked_build("toy", FakeArch(lambda: models), SPEC, {}) is models


def _raise():
    raise RuntimeError("CUDA out of memory")


@pytest.mark.parametrize(("build", "message"), [
    (_raise, "architecture plugin 'toy': build() for data image 3x4x4 in [-1.0, 1.0] failed: RuntimeError: CUDA"),
    (lambda: (nn.Linear(2, 2), nn.Linear(2, 1)), "architecture plugin 'toy': build() must return "
                                                 "pygan.plugins.GanModels(generator, discriminator), got tuple"),
    (lambda: GanModels(nn.Linear(2, 2), lambda x: x), "build() returned a discriminator that is a function"),
    (lambda: GanModels(None, nn.Linear(2, 1)), "build() returned a generator that is a NoneType"),
])
def test_a_build_that_raises_or_returns_no_models_names_the_plugin(build, message):
    with pytest.raises(PluginError) as caught:
        checked_build("toy", FakeArch(build), SPEC, {})
    assert message in str(caught.value)


# ---------------------------------------------------------------- check_outputs


def test_outputs_of_the_contract_pass():
    check_outputs("toy", torch.zeros(8, 3, 4, 4), torch.zeros(8), SPEC, 8)
    packed = DataSpec((6, 4, 4))
    check_outputs("toy", torch.zeros(8, 3, 4, 4), torch.zeros(4), SPEC, 8, d_spec=packed)


@pytest.mark.parametrize("logits_shape", [(8, 2), (8, 1), (8, 1, 1, 1), (), (4,)])
def test_a_discriminator_without_one_logit_per_sample_is_named(logits_shape):
    got = str(logits_shape)
    with pytest.raises(PluginError) as caught:
        check_outputs("toy", torch.zeros(8, 3, 4, 4), torch.zeros(logits_shape), SPEC, 8)
    assert str(caught.value).startswith(f"architecture plugin 'toy': the discriminator returned {got}; "
                                        "expected a tensor of shape (8,): exactly one logit per example")


def test_a_packed_discriminator_must_return_one_logit_per_pack():
    with pytest.raises(PluginError, match=r"returned \(8,\); expected a tensor of shape \(4,\).*packs of 2"):
        check_outputs("toy", torch.zeros(8, 3, 4, 4), torch.zeros(8), SPEC, 8, d_spec=DataSpec((6, 4, 4)))


@pytest.mark.parametrize(("fake", "got"), [
    (torch.zeros(8, 3, 8, 8), "(8, 3, 8, 8)"),
    (torch.zeros(8, 48), "(8, 48)"),
    (torch.zeros(4, 3, 4, 4), "(4, 3, 4, 4)"),
    ((torch.zeros(8, 3, 4, 4),), "a tuple"),
])
def test_a_generator_of_the_wrong_shape_is_named(fake, got):
    with pytest.raises(PluginError) as caught:
        check_outputs("toy", fake, torch.zeros(8), SPEC, 8)
    assert str(caught.value).startswith(f"architecture plugin 'toy': the generator returned {got}; expected a "
                                        "tensor of shape (8, 3, 4, 4)")


def test_checking_outputs_reads_no_values():
    # Meta tensors have shapes but no data: any value read would raise.
    check_outputs("toy", torch.empty(8, 3, 4, 4, device="meta"), torch.empty(8, device="meta"), SPEC, 8)
