"""Score free-text intake on held-out complaint sentences.

Builds the demo city's engine, gazetteer and classifier, generates the held-out
sentences (:mod:`benchmarks.hotline_sentences`, phrasings written apart from the
training ones), reads each one as the server does (place with the gazetteer,
category with the classifier, then the dispatch decision) and prints:

* the auto-dispatch rate (target >= 85 %), also without the no-place sentences,
* wrong unit or category among the auto-dispatched (target < 2 %),
* per-sentence latency p50/p95/p99, wall clock and CPU (target p95 < 10 ms), with the
  cyclic GC's collections and pause time during the run,
* why the others went to review (place: no place / not found / ambiguous / only a
  district / low confidence; category: uncertain, per category),
* the keyword baseline's category accuracy in the same run (first taxonomy keyword found),
* a breakdown per place form.

    .venv/bin/python -m benchmarks.eval_hotline [--n 1500] [--seed 20261201]
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks.hotline_sentences import EVAL_SEED, generate
from cityaware.geo.boundaries.io import read_hierarchy_gpkg
from cityaware.geo.engine.locator import GridLocator
from cityaware.geo.gazetteer.build import DEMO_POINTS, Gazetteer
from cityaware.geo.hotline.classifier import TextClassifier
from cityaware.geo.hotline.intake import decide
from cityaware.geo.hotline.places import read_place, without_place
from cityaware.geo.resources import demo_boundaries
from cityaware.geo.store.taxonomy import TAXONOMY


def keyword_category(text: str) -> str:
    """Baseline: the first category one of whose taxonomy keywords is in the text."""
    for node in TAXONOMY.of_kind("category"):
        if any(word in text for word in (node.name, *node.aliases, *node.keywords)):
            return node.id
    return "other"


def place_is_right(level: str | None, unit: str | None, truth: dict[str, str | None]) -> bool:
    """Whether the pinned unit is the true one; a grid pinned for a named community or
    street is right when it lies in it (codes nest: a grid's code extends its parents').

    >>> place_is_right("grid", "410105001002001", {"grid": None, "community": "410105001002"})
    True
    """
    if level is None or unit is None:
        return False
    if truth.get(level):
        return truth[level] == unit
    parents = [code for code in (truth.get("community"), truth.get("street")) if code]
    return bool(parents) and unit.startswith(parents[0])


def review_causes(place_reason: str | None, category: str | None) -> list[str]:
    """Short names of why a sentence went to review (``category`` when it was uncertain).

    >>> review_causes("'永威苑' is ambiguous: 永威苑, 永威苑", "noise")
    ['place ambiguous', 'category uncertain: noise']
    """
    causes = []
    if place_reason is not None:
        kinds = ("no place", "not found", "ambiguous", "district", "low confidence", "names no")
        kind = next((k for k in kinds if k in place_reason), place_reason)
        causes.append(f"place {kind}")
    if category is not None:
        causes.append(f"category uncertain: {category}")
    return causes


class GcWatch:
    """Counts the cyclic GC's collections and their total and longest pause."""

    def __init__(self) -> None:
        self.collections, self.total_ms, self.longest_ms, self._start = 0, 0.0, 0.0, 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
            return
        pause = (time.perf_counter() - self._start) * 1000
        self.collections += 1
        self.total_ms += pause
        self.longest_ms = max(self.longest_ms, pause)


def percentiles(name: str, values: list[float]) -> str:
    """``name p50 .. p95 .. p99 .. max ..`` in milliseconds.

    >>> percentiles("wall", [1.0, 2.0])
    'wall p50 1.50 ms, p95 1.95 ms, p99 1.99 ms, max 2.00 ms'
    """
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return f"{name} p50 {p50:.2f} ms, p95 {p95:.2f} ms, p99 {p99:.2f} ms, max {max(values):.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=EVAL_SEED)
    parser.add_argument("--cache-dir", default=None, help="reuse engine/gazetteer caches here")
    parser.add_argument("--show-wrong", type=int, default=0)
    parser.add_argument("--show-review", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    units = read_hierarchy_gpkg(demo_boundaries())
    with tempfile.TemporaryDirectory() as scratch:
        cache = Path(args.cache_dir or scratch)
        locator = GridLocator.build(units, "eval", cache_dir=cache)
        gazetteer = Gazetteer.load_or_build(units, locator, "eval", cache, DEMO_POINTS)
        model = TextClassifier.load_or_train(TAXONOMY, cache)
    built = time.perf_counter() - started
    sentences = generate(gazetteer, args.n, args.seed)
    gazetteer.geocode("郑州市金水区纬五路12号")
    model.classify("井盖丢了")
    gc.freeze()  # as the server does once its indexes and model are loaded
    watch = GcWatch()
    gc.callbacks.append(watch)
    causes: Counter[str] = Counter()
    latencies, cpu, auto, wrong, by_form, shown, shown_review = [], [], 0, 0, Counter(), 0, 0
    auto_by_form, base_right, model_right = Counter(), 0, 0
    for s in sentences:
        start, start_cpu = time.perf_counter(), time.thread_time()
        place = read_place(gazetteer, s.text)
        guess = model.classify(without_place(s.text, place))
        mode = decide(guess, place)["mode"]
        latencies.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        by_form[s.form] += 1
        model_right += guess.category == s.category
        base_right += keyword_category(s.text) == s.category
        if mode != "auto":
            causes.update(review_causes(None if place.trusted else place.reason,
                                        None if guess.trusted else guess.category))  # fmt: skip
            if shown_review < args.show_review:
                shown_review += 1
                print("REVIEW", s.form, s.text, "|", decide(guess, place)["reason"])
            continue
        auto += 1
        auto_by_form[s.form] += 1
        unit_ok = place_is_right(place.level, place.unit, s.truth)
        if not unit_ok or guess.category != s.category:
            wrong += 1
            if shown < args.show_wrong:
                shown += 1
                print("WRONG", s.text, s.category, s.truth, guess.category, place.to_dict())
    gc.callbacks.remove(watch)
    n = len(sentences)
    placed = n - by_form["none"]
    lat = np.array(latencies)
    print(
        f"built engine + gazetteer + classifier in {built:.1f} s; {n} sentences, seed {args.seed}"
    )
    print(f"auto-dispatched:            {auto / n:7.1%}  ({auto} of {n}; target >= 85 %)")
    print(f"  of sentences with a place: {auto / max(placed, 1):6.1%}  ({placed} with a place)")
    print(f"  no-place sentences auto:  {auto_by_form['none']} (must be 0)")
    print(
        f"wrong unit or category among auto: {wrong / max(auto, 1):6.2%}  ({wrong}; target < 2 %)"
    )
    print(
        percentiles("latency wall", latencies) + f", mean {lat.mean():.2f} ms (target p95 < 10 ms)"
    )
    print(percentiles("latency CPU ", cpu) + " (this thread's CPU time: what a busy machine "
          "does not inflate)")  # fmt: skip
    print(f"cyclic GC during the run: {watch.collections} collections, "
          f"{watch.total_ms:.1f} ms in all, longest {watch.longest_ms:.2f} ms")  # fmt: skip
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"category accuracy, all sentences: model {model_right / n:.1%}, "
          f"keyword baseline {base_right / n:.1%} "
          f"(ratio {model_right / max(base_right, 1):.2f}x)")  # fmt: skip
    for form in sorted(by_form):
        rate = auto_by_form[form] / by_form[form]
        print(f"  {form:10} {by_form[form]:5} sentences, auto {rate:6.1%}")
    print(f"why {n - auto} went to review (a sentence may have two reasons):")
    for cause, count in causes.most_common():
        print(f"  {count:5}  {cause}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
