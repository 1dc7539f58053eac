"""Plain-language reading of a run's curves: overfitting, a learning rate that is too high, dead or
vanishing or exploding layers; and each layer's health colour for the canvas.

Pure functions of the metric series (`{name: [(step, value), ...]}`): the live charts, the canvas
and the tests read the same data.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

Series = dict[str, list[tuple[int, float]]]

DEAD_SHARE = 0.9          # a ReLU with nearly all units silent for every probe sample (conv borders
                          # are legitimately silent, so a half-dead conv ReLU is normal)
VANISHING_RATIO = 1e-4    # a layer's gradient this much smaller than the largest layer's
EXPLODING_NORM = 1e3      # a gradient norm this large makes steps that overshoot
RISING_EPOCHS = 2         # validation loss above its best for this many epochs: overfitting
HEALTH_COLOURS = {"healthy": "#16a34a", "dead": "#6b7280", "vanishing": "#2563eb", "exploding": "#dc2626"}


@dataclass(frozen=True)
class Hint:
    kind: str        # overfitting | learning_rate | dead | vanishing | exploding
    text: str


def _values(series: Series, name: str) -> list[float]:
    return [v for _, v in series.get(name, []) if v is not None and math.isfinite(v)]


def latest(series: Series, prefix: str) -> dict[str, float]:
    """The last value of every series named `prefix<node id>`, by node id."""
    return {name[len(prefix):]: points[-1][1] for name, points in series.items()
            if name.startswith(prefix) and points}


def layer_health(series: Series) -> dict[str, str]:
    """healthy, dead, vanishing or exploding for each layer with a gradient or dead-unit figure."""
    grads = {k: v for k, v in latest(series, "grad_norm/").items()}
    finite = [v for v in grads.values() if math.isfinite(v)]
    top = max(finite, default=0.0)
    health = {}
    for node_id, norm in grads.items():
        if not math.isfinite(norm) or norm > EXPLODING_NORM:
            health[node_id] = "exploding"
        elif top > 0 and norm < top * VANISHING_RATIO:
            health[node_id] = "vanishing"
        else:
            health[node_id] = "healthy"
    for node_id, share in latest(series, "dead_relu/").items():
        health[node_id] = "dead" if share > DEAD_SHARE else health.get(node_id, "healthy")
    return health


def health_colours(series: Series) -> dict[str, str]:
    """Node id -> colour (green healthy, grey dead, blue vanishing, red exploding): what the canvas paints."""
    return {node_id: HEALTH_COLOURS[state] for node_id, state in layer_health(series).items()}


def _overfitting(series: Series) -> Hint | None:
    val = _values(series, "val/loss")
    train = _values(series, "train/loss_epoch")
    if len(val) <= RISING_EPOCHS or len(train) < len(val):
        return None
    best = min(range(len(val)), key=val.__getitem__)
    rising = len(val) - 1 - best
    if rising >= RISING_EPOCHS and train[-1] < train[best]:
        return Hint("overfitting", f"Overfitting: the validation loss has been above its best (epoch {best + 1}) "
                    f"for {rising} epochs while the training loss keeps falling, so the network is memorising "
                    "the training samples. Add Dropout, raise weight decay, turn on early stopping, or use "
                    "fewer parameters.")
    return None


def _learning_rate(series: Series) -> Hint | None:
    epochs = _values(series, "train/loss_epoch")
    steps = _values(series, "train/loss")
    rising_epochs = len(epochs) >= 2 and epochs[-1] > epochs[0] * 1.05
    tenth = max(1, len(steps) // 10)
    rising_steps = (len(steps) >= 20 and sum(steps[-tenth:]) / tenth
                    > 1.2 * sum(steps[:tenth]) / tenth)
    if rising_epochs or rising_steps:
        lr = _values(series, "lr")
        now = f" (now {lr[-1]:g})" if lr else ""
        return Hint("learning_rate", f"The training loss goes up instead of down: the learning rate{now} is "
                    "probably too high, so each step overshoots. Divide it by 10, or turn on gradient clipping.")
    return None


def hints(series: Series) -> list[Hint]:
    """Everything worth telling the user about the curves so far, most important first."""
    found = [h for h in (_learning_rate(series), _overfitting(series)) if h is not None]
    health = layer_health(series)
    dead = latest(series, "dead_relu/")
    for node_id, state in health.items():
        if state == "dead":
            found.append(Hint("dead", f"{node_id}: {dead[node_id]:.0%} of its units output zero for every "
                                      "sample (dead ReLUs), so nothing flows back through them. Lower the learning "
                                      "rate, or use LeakyReLU/GELU instead of ReLU."))
        elif state == "vanishing":
            found.append(Hint("vanishing", f"{node_id}: its gradient is over 10,000 times smaller than the "
                                           "largest layer's (vanishing gradients), so it barely learns. Add "
                                           "BatchNorm, use ReLU instead of Sigmoid/Tanh, or add a skip connection."))
        elif state == "exploding":
            found.append(Hint("exploding", f"{node_id}: its gradient norm is huge (exploding gradients). Lower "
                                           "the learning rate or turn on gradient clipping (by norm)."))
    return found
