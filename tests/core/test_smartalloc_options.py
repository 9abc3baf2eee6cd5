"""``SmartAlloc(**options)``: every AllocConfig field is an option (the table is generated from
the dataclass), unknown names and bad values raise FA013, a config plus options merge."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import framealloc as fa
from framealloc.config import FRAME_POLICIES

FIELDS = dataclasses.fields(fa.AllocConfig)
NAMES = [f.name for f in FIELDS]
DEFAULTS = fa.AllocConfig()


def _other_value(name: str):
    """A valid value of field ``name`` that differs from its default, chosen by the default's
    type; a field of a new type fails here until it gets a rule."""
    default = getattr(DEFAULTS, name)
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default * 2
    if isinstance(default, tuple):
        return default[:-1]
    if isinstance(default, fa.BehaviourFilter):
        return fa.BehaviourFilter(check_every=default.check_every + 1)
    if isinstance(default, str) and name == "on_frame_exhausted":
        return next(p for p in FRAME_POLICIES if p != default)
    raise AssertionError(f"AllocConfig.{name} ({type(default).__name__}): add a rule for it")


@pytest.mark.parametrize("name", NAMES)
def test_every_field_is_an_option(name):
    value = _other_value(name)
    alloc = fa.SmartAlloc(**{name: value})
    try:
        assert alloc.config == fa.AllocConfig(**{name: value})
        assert getattr(alloc.config, name) != getattr(DEFAULTS, name)
    finally:
        alloc.close()


def test_all_fields_at_once_equal_the_config_form():
    options = {name: _other_value(name) for name in NAMES}
    with fa.SmartAlloc(**options) as alloc:
        assert alloc.config == fa.AllocConfig(**options)


@pytest.mark.parametrize("name", NAMES)
def test_options_with_a_config_replace_its_fields(name):
    base = fa.AllocConfig(**{n: _other_value(n) for n in NAMES if n != name})
    with fa.SmartAlloc(base, **{name: _other_value(name)}) as alloc:
        assert alloc.config == dataclasses.replace(base, **{name: _other_value(name)})
    with fa.SmartAlloc(config=base) as alloc:
        assert alloc.config is base


@pytest.mark.parametrize("bad", ["max_thread", "frame_size", "verbose", "config_"])
def test_unknown_option_is_fa013_naming_the_valid_ones(bad):
    with pytest.raises(fa.ConfigError) as info:
        fa.SmartAlloc(**{bad: 1})
    err = info.value
    assert err.code == "FA013" and str(err).startswith("FA013")
    assert repr(bad) in str(err)
    for name in NAMES:
        assert name in str(err)


def test_unknown_option_suggests_the_close_field():
    with pytest.raises(fa.ConfigError, match=r"'max_thread' \(did you mean 'max_threads'\?\)"):
        fa.SmartAlloc(max_thread=2)
    with pytest.raises(fa.ConfigError, match=r"options 'max_thread' .*, 'zzz':"):
        fa.SmartAlloc(max_thread=2, zzz=1, max_tags=8)


INT_FIELDS = [name for name in NAMES if isinstance(getattr(DEFAULTS, name), int)]


@pytest.mark.parametrize("name", INT_FIELDS)
def test_bad_values_are_checked_as_in_alloc_config(name):
    with pytest.raises(fa.ConfigError) as by_config:
        fa.AllocConfig(**{name: -1})
    with pytest.raises(fa.ConfigError) as by_option:
        fa.SmartAlloc(**{name: -1})
    assert by_option.value.code == "FA013" and str(by_option.value) == str(by_config.value)
    with pytest.raises(fa.ConfigError) as merged:
        fa.SmartAlloc(fa.AllocConfig(), **{name: -1})
    assert str(merged.value) == str(by_config.value)


def test_a_config_that_is_not_an_alloc_config_is_fa013():
    with pytest.raises(fa.ConfigError, match=r"FA013.*AllocConfig, got dict.*keywords"):
        fa.SmartAlloc({"max_threads": 2})


def test_the_options_are_the_allocators_behaviour():
    with fa.SmartAlloc(on_frame_exhausted="error", frame_chunk_size=4096,
                       frame_capacity=4096) as alloc:
        with alloc.frame():
            alloc.frame_array(4096 // 8, np.float64)
            with pytest.raises(fa.ArenaExhaustedError):
                alloc.frame_array(1, np.float64)
