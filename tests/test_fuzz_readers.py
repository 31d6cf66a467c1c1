"""Every reader fuzzed alike (tests/reader_fuzz.py): a result or the project's own error, never
anything else. A few dozen examples of each here; scripts/fuzz_readers.py runs thousands."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from reader_fuzz import READERS, read_allowing_only_our_errors

EXAMPLES = {"checkpoint": 40, "image folder": 25, "command line": 40}


@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.name)
def test_a_reader_gives_a_result_or_its_one_line(reader):
    @settings(
        max_examples=EXAMPLES.get(reader.name, 30),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(example=reader.inputs())
    def check(example):
        folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
        try:
            read_allowing_only_our_errors(reader, example, folder)
        finally:
            shutil.rmtree(folder)

    check()
