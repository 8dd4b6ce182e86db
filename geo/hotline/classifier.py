"""Category from a complaint sentence: character n-grams and a linear model.

Trained from the taxonomy (names, aliases and keywords of every category)
plus the labelled sentences of :mod:`geo.hotline.phrasings`, deterministically,
and cached on disk. Confidence is the model's probability of its answer; the
deciding words are the n-grams present in the text that push hardest towards it.
The probability needed to trust an answer is set at training time: the lowest
at which answers on problem phrasings *left out* of training (grouped
cross-validation) are right at least :data:`TARGET_PRECISION` of the time.

>>> model = TextClassifier.train(TAXONOMY)  # doctest: +SKIP
>>> guess = model.classify("小区门口井盖不见了")  # doctest: +SKIP
>>> guess.category, guess.trusted, "井盖" in guess.words  # doctest: +SKIP
('manhole_cover', True, True)
"""

from __future__ import annotations

import hashlib
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from cityaware.geo.hotline import phrasings
from cityaware.geo.store.taxonomy import Taxonomy

FORMAT_VERSION = 3
# of trusted answers on trouble phrases left out of training (grouped cross-validation):
# the 98 % wanted in use, measured on phrasings the fold's model never saw
TARGET_PRECISION = 0.98
FOLDS = 4
THRESHOLDS = np.round(np.arange(0.2, 0.95, 0.025), 3)
UNTRUSTED = frozenset(("other",))  # never dispatched on its own
TOP_WORDS = 3
NGRAMS = (1, 3)
WORD = re.compile(r"^\w+$")  # n-grams without punctuation or spaces


@dataclass(frozen=True, slots=True)
class Classification:
    """The category guessed for a text and why."""

    category: str
    confidence: float
    words: tuple[str, ...]
    trusted: bool
    runner_up: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.category,
            "confidence": round(self.confidence, 3),
            "words": list(self.words),
            "trusted": self.trusted,
            "runner_up": self.runner_up,
        }


def _samples(taxonomy: Taxonomy) -> tuple[list[str], list[str], list[str]]:
    """Texts, labels and groups (the words or problem phrase each text comes from)."""
    texts, labels, groups = [], [], []
    for node in taxonomy.of_kind("category"):
        spellings = [node.name, *node.aliases, *node.keywords]
        spellings += [k for s in taxonomy.children(node.id) for k in (s.name, *s.keywords)]
        for spelling in filter(None, spellings):
            texts.append(spelling)
            labels.append(node.id)
            groups.append("taxonomy:" + node.id)
    known = set(taxonomy.categories)
    for text, label, phrase in phrasings.training_sentences():
        if label in known:
            texts.append(text)
            labels.append(label)
            groups.append(phrase)
    return texts, labels, groups


def _pipeline() -> Pipeline:
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS, sublinear_tf=True)
    return Pipeline([("tfidf", vectorizer), ("model", LogisticRegression(C=50.0, max_iter=3000))])


def trust_threshold(texts: list[str], labels: list[str], groups: list[str]) -> float:
    """The lowest probability at which out-of-fold answers (whole phrasings held out)
    are right at least TARGET_PRECISION of the time."""
    from sklearn.model_selection import GroupKFold

    truth = np.asarray(labels, dtype=object)
    best = np.zeros(len(texts))
    right = np.zeros(len(texts), dtype=bool)
    for train, test in GroupKFold(n_splits=FOLDS).split(texts, labels, groups):
        fold = _pipeline().fit([texts[i] for i in train], truth[train])
        proba = fold.predict_proba([texts[i] for i in test])
        best[test] = proba.max(axis=1)
        right[test] = fold.classes_[proba.argmax(axis=1)] == truth[test]
    for threshold in THRESHOLDS:
        kept = best >= threshold
        if kept.any() and right[kept].mean() >= TARGET_PRECISION:
            return float(threshold)
    return float(THRESHOLDS[-1])


class TextClassifier:
    """A fitted character n-gram model over one taxonomy's categories.

    Scoring one sentence does the pipeline's arithmetic itself (n-grams looked up in a
    plain dict, sublinear tf-idf, l2 norm, one small matrix product, softmax): the
    same probabilities as ``pipeline.predict_proba`` without sklearn's per-call
    validation and sparse-matrix set-up, which dominate for a single short text.
    """

    def __init__(self, pipeline: Pipeline, trust: float) -> None:
        self.pipeline, self.trust = pipeline, trust
        vectorizer: TfidfVectorizer = pipeline.named_steps["tfidf"]
        self.vocabulary = np.asarray(vectorizer.get_feature_names_out(), dtype=object)
        model: LogisticRegression = pipeline.named_steps["model"]
        self.classes: list[str] = [str(c) for c in model.classes_]
        self._analyze = vectorizer.build_analyzer()
        self._index: dict[str, int] = {str(k): int(v) for k, v in vectorizer.vocabulary_.items()}
        self._idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        self._coef = np.ascontiguousarray(model.coef_.T, dtype=np.float64)  # features x classes
        self._intercept = np.asarray(model.intercept_, dtype=np.float64)

    def probabilities(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Class probabilities of ``text`` and its features (column indices, tf-idf values).

        >>> model = TextClassifier.train(TAXONOMY)  # doctest: +SKIP
        >>> proba = model.probabilities("井盖丢了")[0]  # doctest: +SKIP
        >>> np.allclose(proba, model.pipeline.predict_proba(["井盖丢了"])[0])  # doctest: +SKIP
        True
        """
        counts: dict[int, int] = {}
        for gram in self._analyze(text):
            column = self._index.get(gram)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        columns = np.fromiter(counts, dtype=np.intp, count=len(counts))
        values = np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts))) + 1
        values *= self._idf[columns]
        norm = float(np.sqrt(values @ values))
        if norm:
            values /= norm
        scores = values @ self._coef[columns] + self._intercept
        scores = np.exp(scores - scores.max())
        return scores / scores.sum(), columns, values

    @classmethod
    def train(cls, taxonomy: Taxonomy) -> TextClassifier:
        """Fit on the taxonomy's words and the generated labelled sentences, and set the
        trust threshold by grouped cross-validation."""
        texts, labels, groups = _samples(taxonomy)
        threshold = trust_threshold(texts, labels, groups)
        return cls(_pipeline().fit(texts, labels), threshold)

    @classmethod
    def load_or_train(cls, taxonomy: Taxonomy, cache_dir: Path | None) -> TextClassifier:
        """The cached model for this taxonomy and training set, else a newly trained one."""
        if cache_dir is None:
            return cls.train(taxonomy)
        key = hashlib.sha256(
            repr(
                (
                    FORMAT_VERSION,
                    TARGET_PRECISION,
                    FOLDS,
                    sklearn.__version__,
                    taxonomy.nodes,
                    _samples(taxonomy),
                )
            ).encode("utf-8")
        ).hexdigest()[:16]
        path = Path(cache_dir) / f"classifier-{key}.pickle"
        if path.exists():
            with open(path, "rb") as handle:
                pipeline, trust = pickle.load(handle)
                return cls(pipeline, trust)
        model = cls.train(taxonomy)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        with open(partial, "wb") as handle:
            pickle.dump((model.pipeline, model.trust), handle)
        partial.replace(path)
        return model

    def classify(self, text: str) -> Classification:
        """The most likely category of ``text`` with its probability and deciding words."""
        proba, columns, values = self.probabilities(text)
        order = np.argsort(proba)[::-1]
        best = int(order[0])
        category = self.classes[best]
        push = values * self._coef[columns, best]
        ranked = [str(self.vocabulary[columns[i]]).strip() for i in np.argsort(push)[::-1]]
        words = tuple(w for w in dict.fromkeys(ranked) if len(w) >= 2 and WORD.match(w))
        words = words[:TOP_WORDS]
        confidence = float(proba[best])
        return Classification(
            category,
            confidence,
            words,
            trusted=confidence >= self.trust and category not in UNTRUSTED,
            runner_up=self.classes[int(order[1])] if len(order) > 1 else None,
        )
