"""Cycles among composite providers (config/graph.py, through composite_problems)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from itertools import pairwise
from types import FrameType

from mailproviders.config.graph import cycles
from mailproviders.config.validate import composite_problems
from mailproviders.handler import configure, providers


def test_self_listing() -> None:
    assert cycles({"a": ["b", "a"], "b": []}) == {"a": ""}
    [problem] = composite_problems({"a": ["b", "a"]}, ["a", "b"])
    assert (problem.alias, problem.option) == ("a", "using")
    assert problem.message == "a provider cannot list itself"


def test_two_and_three_hop_cycles_name_every_member() -> None:
    assert cycles({"x": ["y"], "y": ["z", "x"]}) == {
        "x": "'x' → 'y' → 'x'",
        "y": "'y' → 'x' → 'y'",
    }
    found = cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]})
    assert found == {
        "a": "'a' → 'b' → 'c' → 'a'",
        "b": "'b' → 'c' → 'a' → 'b'",
        "c": "'c' → 'a' → 'b' → 'c'",
    }  # d reaches the cycle but is not on it


def test_every_member_of_a_tangle_gets_a_real_cycle_through_it() -> None:
    graph = {"a": ["b", "c"], "b": ["a"], "c": ["d"], "d": ["b"], "e": ["e", "a"]}
    found = cycles(graph)
    assert set(found) == {"a", "b", "c", "d", "e"} and found["e"] == ""
    for alias in "abcd":
        names = [name.strip("'") for name in found[alias].split(" → ")]
        assert names[0] == names[-1] == alias
        assert all(after in graph[before] for before, after in pairwise(names))


def test_no_cycle_in_chains_trees_and_diamonds() -> None:
    assert cycles({"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": ["unknown"]}) == {}
    chain = {f"n{i}": [f"n{i + 1}"] for i in range(1000)}
    assert cycles(chain) == {}


def test_a_long_cycle_is_shortened_in_messages() -> None:
    ring = {f"n{i}": [f"n{(i + 1) % 100}"] for i in range(100)}
    found = cycles(ring)
    assert len(found) == 100
    assert found["n0"] == "'n0' → … → 'n97' → 'n98' → 'n99' → 'n0' (100 links)"
    assert found["n5"] == "'n5' → 'n6' → 'n7' → … → 'n3' → 'n4' → 'n5' (100 links)"
    assert max(len(text) for text in found.values()) < 100


def test_unknown_aliases_are_reported_with_cycles() -> None:
    problems = composite_problems({"x": ["y", "nope"], "y": ["x"]}, ["x", "y"])
    assert [(p.alias, p.message.split(":")[0]) for p in problems] == [
        ("x", "no provider named 'nope'; configured aliases"),
        ("x", "cycle of providers"),
        ("y", "cycle of providers"),
    ]


def _lines_run(run: Callable[[], object]) -> int:
    """How many lines of Python ``run`` executes: a measure of work that, unlike a
    timing, does not move with the load of the machine."""
    count = 0

    def trace(frame: FrameType, event: str, arg: object) -> Callable[..., object]:
        nonlocal count
        if event == "line":
            count += 1
        return trace

    sys.settrace(trace)
    try:
        run()
    finally:
        sys.settrace(None)
    return count


def test_checks_are_linear_in_the_number_of_links() -> None:
    # Searching from every provider in turn made a 5,000-link chain take 37 s (quadratic
    # and worse): 8x the links must now run about 8x the lines, far from the 64x of a
    # quadratic check.
    def chain(n: int) -> dict[str, list[str]]:
        return {f"n{i}": [f"n{i + 1}"] for i in range(n)}

    def ring(n: int) -> dict[str, list[str]]:
        return {f"n{i}": [f"n{(i + 1) % n}"] for i in range(n)}

    for shape in (chain, ring):
        small, large = shape(1_000), shape(8_000)
        small_work = _lines_run(lambda graph=small: composite_problems(graph, [*graph, "n1000"]))
        large_work = _lines_run(lambda graph=large: composite_problems(graph, [*graph, "n8000"]))
        assert 6 < large_work / small_work < 10, (shape.__name__, small_work, large_work)


def test_a_five_thousand_link_failover_chain_configures() -> None:
    mapping: dict[str, object] = {f"p{i}": f"failover://p{i + 1}" for i in range(5_000)}
    mapping["p5000"] = "locmem://"
    configure(EMAIL_PROVIDERS=mapping)
    assert providers.config("p0").OPTIONS["using"] == ["p1"]
