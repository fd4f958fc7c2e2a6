"""The serving process's C heap: glibc's arena limit and trim are reached
(the image is Debian: glibc), and a request's declared length of any shape
is taken without failing the request that carried it."""

from __future__ import annotations

import platform

import pytest

from entrypoints.server import heap


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_takes_the_arena_limit_and_the_trim() -> None:
    assert heap.few_arenas_taken()
    heap.trim_after(heap.LARGE_BODY_BYTES)  # reaches malloc_trim


@pytest.mark.parametrize("length", [None, "", "12", "abc", "-1", 2**40])
def test_any_declared_length_is_taken(length: str | int | None) -> None:
    heap.trim_after(length)
