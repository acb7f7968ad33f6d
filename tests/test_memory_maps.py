"""The guard against the kernel's cap on memory mappings (hat_jax._memory_maps)."""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hat_jax import _compiled, _memory_maps

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")


@linux_only
def test_each_loaded_program_holds_mappings_and_release_returns_them():
    before = _memory_maps.mapping_count()
    programs = [jax.jit(lambda x, k=k: jnp.cumsum(x) * k) for k in range(40)]
    for k, program in enumerate(programs):
        program(jnp.ones(7 + k)).block_until_ready()
    loaded = _memory_maps.mapping_count()
    assert loaded >= before + 40  # at least one mapping per loaded program
    with pytest.warns(RuntimeWarning, match="vm.max_map_count"):
        assert _memory_maps.release_if_crowded(share=0.0)
    assert _memory_maps.mapping_count() < loaded - 40
    # the programs still run after the release (recompiled on their next call)
    np.testing.assert_allclose(programs[3](jnp.ones(10)), 3.0 * np.arange(1, 11))


@linux_only
def test_release_only_above_the_share_and_the_compiled_cache_survives_then():
    assert 1000 < _memory_maps.mapping_limit()
    program = jax.jit(lambda x: 2.0 * x)
    x = jnp.ones(3)
    exe = _compiled.compiled(program, (x,))
    assert not _memory_maps.release_if_crowded(share=1.0)
    assert _compiled.compiled(program, (x,)) is exe  # nothing was dropped
    assert _memory_maps.release_if_crowded(share=0.0, warn=False)
    assert _compiled.compiled(program, (x,)) is not exe  # compiled afresh


@linux_only
def test_compiled_releases_before_compiling_in_a_crowded_process(monkeypatch):
    """The library's entry points (``_compiled.compiled``) release the loaded programs,
    with a warning, before compiling in a process past half the cap (the cap lowered to
    1 here), and the new program runs."""
    x = jnp.ones(4)
    program = jax.jit(lambda y: y + 1.0)
    first = _compiled.compiled(program, (x,))
    monkeypatch.setattr(_memory_maps, "mapping_limit", lambda: 1)
    with pytest.warns(RuntimeWarning, match="vm.max_map_count"):
        tripled = _compiled.compiled(jax.jit(lambda y: 3.0 * y), (x,))
    monkeypatch.undo()
    np.testing.assert_allclose(tripled(x), 3.0)
    assert _compiled.compiled(program, (x,)) is not first  # its cache was emptied
