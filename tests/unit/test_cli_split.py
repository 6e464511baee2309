"""``harness promotions propose --split 3:90,4:10``: the option as the API's variants."""

import pytest
import typer

from services.cli import _parse_split


def test_split_option_becomes_variants():
    assert _parse_split("3:90, 4:10") == [{"version": 3, "weight": 90.0},
                                          {"version": 4, "weight": 10.0}]
    assert _parse_split("1:0.5,2:0.5")[1] == {"version": 2, "weight": 0.5}


@pytest.mark.parametrize("text", ["3", "3:x", "a:90,4:10", "3:90,,4:10"])
def test_a_bad_split_option_says_the_format(text):
    with pytest.raises(typer.BadParameter) as err:
        _parse_split(text)
    assert "VERSION:WEIGHT" in str(err.value)
