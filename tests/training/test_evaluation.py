import math

import torch
from torch import nn

from runtime.training import TrainConfig, Trainer
from runtime.training.evaluation import class_report
from runtime.training.health import DeadUnits, LayerNorms, diagnose_divergence, layer_params
from training_fixtures import NamedClassifier, linear_targets, mlp, quadrants


def test_class_report_matches_a_hand_count():
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    predicted = torch.tensor([0, 1, 1, 1, 2, 0])
    report = class_report(predicted, y, 3)
    assert report.confusion == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert report.precision == [0.5, 2 / 3, 1.0] and report.recall == [0.5, 1.0, 0.5]
    assert report.accuracy == 4 / 6


def test_a_figure_of_no_samples_is_undefined_not_zero():
    y = torch.tensor([0, 1, 1, 2])
    report = class_report(torch.tensor([0, 0, 1, 1]), y, 4)
    assert report.precision == [0.5, 0.5, None, None]      # classes 2 and 3 were never predicted: 0/0
    assert report.recall == [1.0, 0.5, 0.0, None]          # class 2 was missed (0/1); class 3 has no samples


def test_evaluate_gives_figures_probabilities_and_predictions_on_the_test_split():
    data = quadrants()
    data.x_test, data.y_test = data.x_val, data.y_val
    model = NamedClassifier()
    trainer = Trainer(model, data, TrainConfig(epochs=8, lr=0.01, batch_size=32))
    trainer.fit()
    ev = trainer.evaluate("test")
    assert ev.metrics["test/acc"] > 0.9 and ev.metrics["test/loss"] < 0.4
    assert ev.probabilities.shape == (240, 2) and torch.allclose(ev.probabilities.sum(-1), torch.ones(240))
    assert torch.equal(ev.predictions, ev.probabilities.argmax(-1))
    assert sum(map(sum, ev.report.confusion)) == 240 and abs(ev.report.accuracy - ev.metrics["test/acc"]) < 1e-6
    assert model.output_logits is False


def test_regression_evaluation_returns_values_and_r2():
    data = linear_targets()
    data.x_test, data.y_test = data.x_val, data.y_val
    trainer = Trainer(mlp(inputs=4, outputs=1), data, TrainConfig(epochs=15, lr=0.01))
    trainer.fit()
    ev = trainer.evaluate()
    assert ev.report is None and ev.probabilities is None and ev.predictions.shape == (200, 1)
    assert ev.metrics["test/r2"] > 0.9


def test_dead_units_counts_relus_that_never_fire():
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].bias.copy_(torch.tensor([-1.0, -1.0, 1.0, 1.0]))
    with DeadUnits(model) as dead:
        model(torch.randn(8, 2))
    assert dead.fractions == {"1": 0.5}


def test_divergence_diagnosis_wording():
    text = diagnose_divergence(float("nan"), 2.3, 2, 120, 0.5, {"conv1": 3.0, "conv2": 900.0}, {"conv1": math.nan})
    assert text == ("loss became NaN at epoch 3 step 120: gradients exploded in conv2 (gradient norm 900 just "
                    "before, the largest of all layers); lower the learning rate (now 0.5) or enable gradient clipping.")
    text = diagnose_divergence(math.inf, None, 0, 1, 10, None, {"fc1": math.inf, "fc2": math.nan})
    assert text.startswith("loss became infinite at epoch 1 step 1: gradients exploded in fc2 (its gradient is not finite)")


def test_a_divergence_with_small_gradients_blames_the_learning_rate_not_the_gradients():
    # SGD at lr 10 on the MLP template: the loss went to 1.97e7 while fc2's gradient norm was 0.362
    text = diagnose_divergence(1.97e7, 2.31, 0, 5, 10, {"fc1": 0.2, "fc2": 0.362, "fc3": 0.3}, {"fc2": math.nan})
    assert text == ("loss exploded to 1.97e+07 (it started at 2.31) at epoch 1 step 5: the learning rate (10) is "
                    "too large, not the gradients: the largest, fc2's, had norm 0.362 just before, and a learning "
                    "rate that large turns even such a gradient into a step that overshoots; lower the learning "
                    "rate (try 1, then less if it diverges again).")
    assert "exploded in" not in text and "clipping" not in text     # clipping at norm 1 would change nothing


def test_grad_norms_are_per_node_id():
    model = NamedClassifier()
    model(torch.randn(4, 2)).sum().backward()
    layers = LayerNorms(layer_params(model))
    norms = layers.grads()
    assert set(norms) == {"dense_1", "classifier"}
    expected = torch.sqrt(model.fc1.weight.grad.square().sum() + model.fc1.bias.grad.square().sum())
    assert math.isclose(norms["dense_1"], expected.item(), rel_tol=1e-5)
    weights = layers.weights()
    expected = torch.sqrt(model.fc2.weight.square().sum() + model.fc2.bias.square().sum())
    assert math.isclose(weights["classifier"], expected.item(), rel_tol=1e-5)

