"""Software 2.0: the program is weights fitted to the train split — TF-IDF features with
logistic regression, and a small neural network (one hidden layer) on the same features."""

from __future__ import annotations

import time

from .data import Example


class Learned:
    """fit(train) then classify(text); `train_seconds` says what building it cost."""

    def __init__(self, kind: str = "logreg", seed: int = 0):
        self.kind, self.seed = kind, seed
        self.model = None
        self.train_seconds = 0.0

    def fit(self, train: list[Example]) -> "Learned":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline

        features = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        if self.kind == "logreg":
            head = LogisticRegression(C=4.0, max_iter=2000)
        else:
            head = MLPClassifier(hidden_layer_sizes=(64,), alpha=1e-3, early_stopping=True, max_iter=50, random_state=self.seed)
        started = time.perf_counter()
        self.model = make_pipeline(features, head).fit([e.text for e in train], [e.label for e in train])
        self.train_seconds = time.perf_counter() - started
        return self

    def classify(self, text: str) -> str:
        return str(self.model.predict([text])[0])

    def classify_many(self, texts: list[str]) -> list[str]:
        return [str(x) for x in self.model.predict(texts)]
