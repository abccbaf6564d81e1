"""ML signals: explainable xgboost models over the streaming indicators, trained and evaluated without leaks.

One module per job: ``features`` (named feature sets, one definition for research and live), ``labels`` (forward
returns on a tradable price, classes beyond an explicit cost), ``model`` (the xgboost booster, native API),
``tuning`` (choices inside a training window), ``walkforward`` (purged, embargoed walk-forward), ``evaluate``
(precision and net returns by threshold, baselines, block-bootstrap intervals), ``explain`` (per-indicator
contributions), ``model_io`` (model directories), ``handler`` (``MLSignal`` on the bus), ``pipeline`` (train,
score, recommend), ``tables`` (text and Markdown tables). The README's "ML signals" section is the guide.
"""

from engine.ml.features import Feature, FeatureSet, feature_set
from engine.ml.handler import MLSignal
from engine.ml.labels import LabelSpec
from engine.ml.model_io import ModelBundle
from engine.ml.pipeline import recommend, score, train
from engine.ml.walkforward import WalkForwardConfig

__all__ = ["Feature", "FeatureSet", "LabelSpec", "MLSignal", "ModelBundle", "WalkForwardConfig", "feature_set",
           "recommend", "score", "train"]
