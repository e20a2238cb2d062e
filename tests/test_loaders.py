"""RequestLoader: values remembered from a page behave exactly as primed ones."""

from __future__ import annotations

from collections.abc import Sequence

from docgraph.resolvers.loaders import MISSING, RequestLoader


class Squares(RequestLoader[int, int]):
    """Loads n -> n * n, noting every batch it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[int]] = []

    async def batch_load_fn(self, keys: Sequence[int]) -> list[int]:
        self.batches.append(list(keys))
        return [key * key for key in keys]


async def test_a_remembered_value_loads_without_a_batch():
    loader = Squares()
    loader.remember(3, 10)
    assert loader.known(3) == 10
    assert await loader.load(3) == 10
    assert await loader.load(4) == 16
    assert loader.batches == [[4]]


async def test_a_key_already_there_keeps_its_value():
    loader = Squares()
    assert await loader.load(2) == 4
    loader.remember(2, 99)  # loaded first: the loaded value stays, as with prime
    assert loader.known(2) == 4
    assert await loader.load(2) == 4
    loader.remember(5, 1)
    loader.remember(5, 2)
    loader.prime(5, 3)  # remembered first: prime changes nothing
    assert await loader.load(5) == 1


async def test_clearing_forgets_remembered_values():
    loader = Squares()
    loader.remember(7, 0)
    loader.clear(7).prime(7, 70)
    assert await loader.load(7) == 70
    loader.remember(8, 0)
    loader.clear_all()
    assert loader.known(8) is MISSING
    assert await loader.load(8) == 64


async def test_unknown_or_pending_keys_are_missing():
    loader = Squares()
    assert loader.known(1) is MISSING
    pending = loader.load(1)
    assert loader.known(1) is MISSING  # asked for, not loaded yet
    assert await pending == 1
    assert loader.known(1) == 1
    loader.remember(6, None)  # an entity known not to exist is a value, not MISSING
    assert loader.known(6) is None
