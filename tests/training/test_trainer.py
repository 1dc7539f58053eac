import threading

import pytest
import torch
from torch import nn

from runtime.training import Callback, Checkpointer, ConfigError, History, RunControl, TrainConfig, Trainer
from training_fixtures import NamedClassifier, linear_targets, mlp, quadrants, same_weights


def test_a_small_mlp_learns_a_nonlinear_problem():
    history = History()
    result = Trainer(mlp(), quadrants(), TrainConfig(epochs=15, lr=0.01, batch_size=32),
                     callbacks=[history]).fit()
    assert result.status == "completed" and result.epochs_done == 15
    assert result.metrics["val/acc"] >= 0.95
    losses = history.values("train/loss_epoch")
    assert losses[-1] < losses[0] / 3


def test_metrics_have_the_documented_names_and_one_train_loss_per_step():
    history = History()
    cfg = TrainConfig(epochs=2, batch_size=100, log_every=5)
    result = Trainer(NamedClassifier(), quadrants(), cfg, callbacks=[history]).fit()
    steps = [s for s, _ in history.series["train/loss"]]
    assert steps == list(range(1, result.steps + 1)) and result.steps == 2 * 10
    for name in ("val/loss", "val/acc", "lr", "samples_per_s", "train/loss_epoch", "epoch",
                 "grad_norm/dense_1", "grad_norm/classifier", "weight_norm/dense_1", "dead_relu/relu_1"):
        assert name in history.series, name
    assert "grad_norm/probs" not in history.series       # no parameters, no norm


@pytest.mark.parametrize("interval, expected_epochs", [(0.0, [1, 2, 3, 4, 5, 6]), (1e9, [1, 6])])
def test_layer_health_is_sampled_at_most_every_interval_and_always_on_the_first_and_last_epoch(
        monkeypatch, interval, expected_epochs):
    from runtime.training import trainer as trainer_module
    monkeypatch.setattr(trainer_module, "HEALTH_INTERVAL_S", interval)
    history = History()
    Trainer(NamedClassifier(), quadrants(), TrainConfig(epochs=6, batch_size=100), callbacks=[history]).fit()
    epoch_at_step = {s: int(e) for s, e in history.series["epoch"]}
    for name in ("weight_norm/dense_1", "dead_relu/relu_1"):
        assert [epoch_at_step[s] for s, _ in history.series[name]] == expected_epochs, name
    assert len(history.values("val/loss")) == 6          # the epoch's other figures are never skipped



@pytest.mark.parametrize("interval", [0.0, 1e9])
def test_gradient_norms_are_read_with_the_losses_at_most_every_interval(monkeypatch, interval):
    from runtime.training import trainer as trainer_module
    monkeypatch.setattr(trainer_module, "GRAD_INTERVAL_S", interval)
    history = History()
    result = Trainer(NamedClassifier(), quadrants(), TrainConfig(epochs=3, batch_size=100, log_every=5),
                     callbacks=[history]).fit()
    loss_reads = sorted({1, 2, 4, 8, *range(5, result.steps + 1, 5)})    # the early checks, then every 5 steps
    expected = loss_reads if interval == 0.0 else [1]
    assert [s for s, _ in history.series["grad_norm/dense_1"]] == expected


def test_a_diverging_run_is_diagnosed_even_between_gradient_samples(monkeypatch):
    from runtime.training import trainer as trainer_module
    monkeypatch.setattr(trainer_module, "GRAD_INTERVAL_S", 1e9)       # only the first read samples norms
    data = quadrants()
    data.x_train = data.x_train.clone()
    data.x_train[700] = float("inf")
    result = Trainer(NamedClassifier(), data, TrainConfig(epochs=3, batch_size=32, log_every=10)).fit()
    assert result.status == "diverged" and result.steps > 1
    assert "gradients exploded in " in result.reason and "(gradient norm" in result.reason

def test_dead_relus_are_counted_on_a_full_batch_and_not_on_tiny_ones(monkeypatch):
    from runtime.training import health
    sizes = []

    class Recording(health.DeadUnits):
        def __enter__(self):
            self._hooks.append(self.model.register_forward_pre_hook(lambda _m, args: sizes.append(len(args[0]))))
            return super().__enter__()
    monkeypatch.setattr(health, "DeadUnits", Recording)
    data = quadrants()
    data.x_train, data.y_train = data.x_train[:65], data.y_train[:65]      # 4 batches of 16 and one of 1
    history = History()
    Trainer(NamedClassifier(), data, TrainConfig(epochs=2, batch_size=16), callbacks=[history]).fit()
    assert sizes == [16, 16] and len(history.values("dead_relu/relu_1")) == 2
    history = History()
    Trainer(NamedClassifier(), data, TrainConfig(epochs=2, batch_size=4), callbacks=[history]).fit()
    assert "dead_relu/relu_1" not in history.series and len(history.values("weight_norm/dense_1")) == 2


def test_a_model_left_in_eval_mode_trains_in_training_mode():
    model = mlp(dropout=0.5)
    model.eval()
    modes = []
    model.register_forward_pre_hook(lambda m, _args: modes.append(m.training))
    Trainer(model, quadrants(), TrainConfig(epochs=1, batch_size=100)).fit()
    assert modes and all(modes[:5])                    # the training steps ran with dropout on


def test_same_seed_same_curve_other_seed_other_curve():
    def curve(seed):
        h = History()
        Trainer(mlp(dropout=0.2, seed=seed), quadrants(), TrainConfig(epochs=2, seed=seed), callbacks=[h]).fit()
        return h.values("train/loss")
    assert curve(3) == curve(3)
    assert curve(3) != curve(4)


def test_a_final_softmax_is_skipped_for_the_loss_and_restored_after():
    model = NamedClassifier()
    result = Trainer(model, quadrants(), TrainConfig(epochs=10, lr=0.01, batch_size=32)).fit()
    assert model.seen_logits == {True}
    assert model.output_logits is False
    probs = model.eval()(torch.randn(5, 2))
    assert torch.allclose(probs.sum(-1), torch.ones(5))
    assert result.metrics["val/acc"] >= 0.9


def test_regression_reports_r2_and_mae_and_beats_the_mean():
    result = Trainer(mlp(inputs=4, outputs=1), linear_targets(), TrainConfig(epochs=20, lr=0.01)).fit()
    assert result.metrics["val/r2"] > 0.9
    assert 0 < result.metrics["val/mae"] < 0.5


class StopAt(Callback):
    def __init__(self, step, control):
        self.step, self.control = step, control

    def on_batch_end(self, trainer, batch):
        if batch.step == self.step:
            self.control.stop()


def test_stop_takes_effect_before_the_next_batch():
    control = RunControl()
    history = History()
    result = Trainer(mlp(), quadrants(), TrainConfig(epochs=50), control=control,
                     callbacks=[StopAt(7, control), history]).fit()
    assert result.status == "stopped" and result.steps == 7
    assert history.series["train/loss"][-1][0] == 7          # buffered losses were reported


def resumable_config():
    return TrainConfig(epochs=3, batch_size=50, lr=0.01, schedule="cosine", warmup_epochs=1,
                       early_stopping=True, patience=10, log_every=3)


def jitter(x, generator):
    return x + 0.05 * torch.randn(x.shape, generator=generator)


def test_stop_then_resume_from_checkpoint_gives_identical_weights(tmp_path):
    data = quadrants()
    straight = mlp(dropout=0.3)
    Trainer(straight, data, resumable_config(), augment=jitter).fit()

    control = RunControl()
    first = mlp(dropout=0.3)
    result = Trainer(first, data, resumable_config(), control=control, augment=jitter,
                     callbacks=[StopAt(30, control), Checkpointer(tmp_path)]).fit()
    assert result.status == "stopped" and result.epochs_done == 1          # stopped mid-epoch 2
    resumed = mlp(dropout=0.3, seed=99)                                     # other initial weights
    result = Trainer(resumed, data, resumable_config(), augment=jitter).fit(resume_from=tmp_path / "last.json")
    assert result.status == "completed" and result.steps == 3 * 20
    assert same_weights(resumed, straight)


class PauseAt(Callback):
    def __init__(self, step, control):
        self.step, self.control, self.paused_seen = step, control, False

    def on_batch_end(self, trainer, batch):
        if batch.step == self.step:
            self.control.pause()
            threading.Timer(0.05, self.control.resume).start()
        self.paused_seen |= self.control.paused


def test_pause_and_resume_in_memory_gives_identical_weights():
    data = quadrants()
    straight = mlp(dropout=0.3)
    Trainer(straight, data, resumable_config()).fit()
    control = RunControl()
    pauser = PauseAt(12, control)
    paused = mlp(dropout=0.3)
    result = Trainer(paused, data, resumable_config(), control=control, callbacks=[pauser]).fit()
    assert pauser.paused_seen and result.status == "completed"
    assert same_weights(paused, straight)


def test_fork_continues_from_an_epoch_with_new_settings(tmp_path):
    data = quadrants()
    model = mlp()
    Trainer(model, data, TrainConfig(epochs=3), callbacks=[Checkpointer(tmp_path)]).fit()
    assert (tmp_path / "epoch_0002.safetensors").exists()
    fork = mlp(seed=5)
    history = History()
    result = Trainer(fork, data, TrainConfig(epochs=2, lr=0.003, optimizer="adam"),
                     callbacks=[history]).fit(resume_from=tmp_path / "epoch_0002", fork=True)
    assert history.values("epoch") == [3.0, 4.0] and result.epochs_done == 4
    assert history.values("lr") and set(history.values("lr")) == {0.003}
    sgd = Trainer(mlp(seed=6), data, TrainConfig(epochs=1, optimizer="sgd", lr=0.1))
    assert sgd.fit(resume_from=tmp_path / "epoch_0001", fork=True).status == "completed"


def test_a_fork_continues_its_parents_step_axis_from_the_checkpoint(tmp_path):
    data = quadrants()                                   # 960 training samples: 15 steps of 64 per epoch
    parent = History()
    Trainer(mlp(), data, TrainConfig(epochs=3, log_every=100), callbacks=[parent, Checkpointer(tmp_path)]).fit()
    fork = History()
    trainer = Trainer(mlp(), data, TrainConfig(epochs=2, batch_size=32, lr=0.003, log_every=100), callbacks=[fork])
    result = trainer.fit(resume_from=tmp_path / "epoch_0002", fork=True)
    assert parent.series["epoch"] == [(15, 1.0), (30, 2.0), (45, 3.0)]
    assert fork.series["epoch"] == [(60, 3.0), (90, 4.0)]  # from the parent's step 30, 30 steps of 32 an epoch
    assert [s for s, _ in fork.series["train/loss"]] == list(range(31, 91))
    assert [s for s, _ in fork.series["grad_norm/0"]][0] == 31   # its first losses are read at once, as a new run's
    assert result.steps == trainer.last_step == 90
    resumed = History()
    Trainer(mlp(), data, TrainConfig(epochs=3, log_every=100), callbacks=[resumed]).fit(
        resume_from=tmp_path / "epoch_0002")
    assert resumed.series["epoch"] == [(45, 3.0)]          # a resumed run goes on where it was, as before


def test_a_huge_learning_rate_ends_with_a_diagnosis_naming_a_layer():
    data = quadrants()
    data.x_train = data.x_train * 1e3
    model = NamedClassifier()
    history = History()
    result = Trainer(model, data, TrainConfig(optimizer="sgd", lr=10.0, momentum=0.9, epochs=5),
                     callbacks=[history]).fit()
    assert result.status == "diverged" and result.steps == 2
    assert result.reason.startswith("loss exploded to ") and "at epoch 1 step 2: gradients exploded in " \
        "classifier (gradient norm" in result.reason
    assert result.reason.endswith("lower the learning rate (now 10) or enable gradient clipping.")
    losses = history.series["train/loss"]             # the loss chart ends at the exploded value it names
    assert f"step {losses[-1][0]}:" in result.reason and f"exploded to {losses[-1][1]:.3g} " in result.reason
    assert model.output_logits is False


def test_a_nan_loss_names_the_step_it_appeared_at():
    data = quadrants()
    data.x_train = data.x_train.clone()
    data.x_train[700] = float("nan")
    result = Trainer(NamedClassifier(), data, TrainConfig(epochs=3, batch_size=32, log_every=10)).fit()
    assert result.status == "diverged"
    assert result.reason.startswith("loss became NaN at epoch 1 step ")
    bad_step = int(result.reason.split("step ")[1].split(":")[0])
    order = torch.randperm(960, generator=torch.Generator().manual_seed(0))
    assert (order == 700).nonzero().item() // 32 + 1 == bad_step


class Exploding(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls == 3:
            raise RuntimeError("while executing node fc: boom")
        return self.fc(x)


class Recorder(Callback):
    def __init__(self):
        self.errors, self.ended = [], []

    def on_exception(self, trainer, error):
        self.errors.append(error)

    def on_train_end(self, trainer, result):
        self.ended.append(result)


def test_a_crashing_layer_reaches_on_exception_and_is_raised():
    rec = Recorder()
    with pytest.raises(RuntimeError, match="node fc"):
        Trainer(Exploding(), quadrants(), TrainConfig(epochs=1), callbacks=[rec]).fit()
    assert len(rec.errors) == 1 and rec.ended == []


def test_early_stopping_restores_the_best_weights():
    history = History()
    cfg = TrainConfig(epochs=30, lr=0.05, early_stopping=True, patience=1, min_delta=10.0)
    model = mlp()
    best = {}

    class Keep(Callback):
        def on_epoch_end(self, trainer, epoch, metrics):
            if epoch == 0:
                best.update({k: v.clone() for k, v in trainer.model.state_dict().items()})
    result = Trainer(model, quadrants(), cfg, callbacks=[history, Keep()]).fit()
    assert result.status == "early_stopped" and result.epochs_done == 3 and result.best_epoch == 1
    assert all(torch.equal(model.state_dict()[k], v) for k, v in best.items())


def test_clipping_by_norm_bounds_every_step():
    norms = []

    class Watch(Callback):
        def on_batch_end(self, trainer, batch):
            norms.append(float(torch.linalg.vector_norm(torch.stack(
                [p.grad.norm() for p in trainer.model.parameters()]))))
    Trainer(mlp(), quadrants(), TrainConfig(epochs=1, lr=0.5, clip="norm", clip_value=0.01),
            callbacks=[Watch()]).fit()
    assert norms and max(norms) <= 0.01 * 1.001


@pytest.mark.parametrize("schedule, lr, check", [
    ("step", 0.1, lambda lrs: lrs[-1] == pytest.approx(0.1 * 0.1 ** 2)),
    ("cosine", 0.1, lambda lrs: lrs[-1] < 0.01 * lrs[0]),
    # the first step's rate, lr / 25 (one-cycle's start), not the second step's, which it set after
    ("onecycle", 0.1, lambda lrs: lrs[0] == pytest.approx(0.1 / 25) and max(lrs) > 0.05 and lrs[-1] < 0.01),
    # a rate too small to improve anything: the plateau schedule lowers it after every epoch
    ("plateau", 1e-5, lambda lrs: lrs[0] == 1e-5 and lrs[-1] <= 1e-5 * 0.1 ** 2 * 1.001),
])
def test_schedules_shape_the_learning_rate(schedule, lr, check):
    history = History()
    cfg = TrainConfig(epochs=5, lr=lr, optimizer="sgd", schedule=schedule, step_size=2, batch_size=96,
                      plateau_patience=0)
    Trainer(mlp(), quadrants(), cfg, callbacks=[history]).fit()
    lrs = [v for s, v in history.series["lr"]]
    assert check(lrs), lrs


def test_user_errors_are_config_errors():
    with pytest.raises(ConfigError, match="monitor"):
        Trainer(mlp(inputs=4, outputs=1), linear_targets(), TrainConfig(monitor="val/acc")).fit()
    with pytest.raises(ConfigError, match="regression loss"):
        Trainer(mlp(), quadrants(), TrainConfig(loss="mse")).fit()
    with pytest.raises(ConfigError, match="training split is empty or uneven"):
        Trainer(mlp(), quadrants(n=0), TrainConfig()).fit()


@pytest.mark.parametrize("settings", [
    {"optimizer": "sgd", "lr": 0.1, "nesterov": True},
    {"optimizer": "rmsprop", "lr": 0.003, "momentum": 0.0},
    {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.01},
    {"loss": "bce", "lr": 0.01},
    {"label_smoothing": 0.1, "lr": 0.01, "clip": "value", "clip_value": 0.5},
])
def test_each_optimizer_and_classification_loss_learns(settings):
    history = History()
    Trainer(mlp(), quadrants(), TrainConfig(epochs=4, **settings), callbacks=[history]).fit()
    losses = history.values("val/loss")
    assert losses[-1] < losses[0] and history.values("val/acc")[-1] > 0.8


@pytest.mark.parametrize("loss", ["mae", "huber"])
def test_regression_losses_learn(loss):
    result = Trainer(mlp(inputs=4, outputs=1), linear_targets(), TrainConfig(epochs=10, lr=0.01, loss=loss)).fit()
    assert result.metrics["val/r2"] > 0.8


def test_an_l1_penalty_shrinks_the_weights():
    def total_weight(l1):
        model = mlp()
        Trainer(model, quadrants(), TrainConfig(epochs=3, lr=0.01, l1=l1)).fit()
        return sum(p.abs().sum().item() for p in model.parameters() if p.dim() > 1)
    assert total_weight(0.01) < 0.5 * total_weight(0.0)


def tiny_cnn(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(64, 2))


def test_a_conv_net_trains_channels_last_resumes_exactly_and_ends_contiguous(tmp_path):
    from types import SimpleNamespace
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 1, 4, 4, generator=g)
    data = SimpleNamespace(x_train=x, y_train=(x.mean(dim=(1, 2, 3)) > 0).long())
    cfg = TrainConfig(epochs=3, batch_size=20, lr=0.01)
    straight = tiny_cnn()
    assert Trainer(straight, data, cfg).fit().metrics["train/loss_epoch"] < 0.5
    assert all(p.is_contiguous() for p in straight.parameters())
    control = RunControl()
    first = tiny_cnn()
    Trainer(first, data, cfg, control=control, callbacks=[StopAt(13, control), Checkpointer(tmp_path)]).fit()
    resumed = tiny_cnn(seed=1)
    Trainer(resumed, data, cfg).fit(resume_from=tmp_path / "last")
    assert same_weights(resumed, straight)


def test_the_torch_compile_option_trains_and_still_counts_dead_relus():
    history = History()
    result = Trainer(NamedClassifier(), quadrants(), TrainConfig(epochs=2, lr=0.01, compile=True),
                     callbacks=[history]).fit()
    assert result.status == "completed" and result.metrics["val/acc"] > 0.85
    assert len(history.values("dead_relu/relu_1")) == 2
