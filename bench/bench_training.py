"""Training throughput: Layerboard's Trainer against a hand-written loop, Keras 3 fit and Lightning.

Every variant trains the same compiled template module (fresh copy of the same initial weights)
on the same in-memory tensors, with the template's batch size and optimizer, one torch thread,
no validation. Variants are interleaved round by round; medians of samples/s are reported with
ratios measured in this one run.

- layerboard: Trainer with its live metrics (per-step loss, grad/weight norms, dead ReLUs) and the
  app's listeners in a run's process (Relay pickling progress for the pipe to the app + RunRecorder
  into a temporary store).
- bare_fused: the same loop as hand-written but with the Trainer's fused Adam and its gradient reset
  (grads set to None directly, not through `zero_grad`): Trainer vs this is the cost of the live
  metrics and callbacks.
- hand_written: a straightforward loop with torch.optim defaults.
- keras: Keras 3 `fit` (torch backend) on the module wrapped in TorchModuleWrapper, Keras's optimizer.
- lightning: Lightning `Trainer.fit` over a shuffled DataLoader of a TensorDataset.
- ceiling: forward and backward only (no optimizer step, no loop bookkeeping), the same batches. No
  loop can beat this: `ceiling / hand_written` is the most any trainer can gain over the hand-written
  loop without changing the model's arithmetic.

Also: "start" to first loss point with a warm app process, through the background job registry (the
run in its own process, forked from the registry's warm fork server).

Needs bench/requirements.txt. Run: .venv/bin/python bench/bench_training.py [--rounds 3]
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import pickle
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from runtime.graph import load_project  # noqa: E402
from runtime.job_worker import Relay  # noqa: E402
from runtime.jobs import JobRegistry, RunSpec  # noqa: E402
from runtime.store import Store  # noqa: E402
from runtime.training import TrainConfig, Trainer  # noqa: E402
from runtime.training.recording import RunRecorder  # noqa: E402
from runtime.training.session import prepare  # noqa: E402

TEMPLATES = Path(__file__).resolve().parents[1] / "runtime" / "templates"
# (label, template, dataset section or None for the template's, training samples used, epochs)
CASES = [("MLP", "mlp", None, None, 30),
         ("CNN (LeNet-5)", "lenet5", None, 2048, 3),
         ("ResNet (small)", "resnet_small", None, 256, 1),
         ("LSTM", "lstm", None, None, 60),
         ("Transformer", "transformer", None, 1024, 2)]


def optimizer_for(params, cfg: TrainConfig, fused: bool) -> torch.optim.Optimizer:
    kind = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[cfg.optimizer]
    extra = {"fused": True} if fused else {}
    return kind(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **extra)


def hand_loop(model, x, y, cfg: TrainConfig, epochs: int, trainer_step: bool = False) -> None:
    """A straightforward loop with torch.optim defaults; with `trainer_step`, the Trainer's step without
    its metrics: the fused optimizer, gradients reset by setting them to None."""
    params = list(model.parameters())
    opt = optimizer_for(params, cfg, fused=trainer_step)
    g = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), cfg.batch_size):
            idx = perm[i:i + cfg.batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            if trainer_step:
                for p in params:
                    p.grad = None
            else:
                opt.zero_grad()
            loss.backward()
            opt.step()


def forward_backward_only(model, x, y, cfg: TrainConfig, epochs: int) -> None:
    g = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), cfg.batch_size):
            idx = perm[i:i + cfg.batch_size]
            for p in model.parameters():
                p.grad = None
            F.cross_entropy(model(x[idx]), y[idx]).backward()


def run_layerboard(model, x, y, cfg: TrainConfig, epochs: int, store: Store, run: str) -> None:
    from types import SimpleNamespace
    data = SimpleNamespace(x_train=x, y_train=y)
    Trainer(model, data, cfg.replace(epochs=epochs), task="classification",
            callbacks=[Relay(pickle.dumps), RunRecorder(store, run)]).fit()


def run_keras(model, x, y, cfg: TrainConfig, epochs: int) -> None:
    import keras
    inputs = keras.Input(shape=tuple(x.shape[1:]), dtype="int64" if x.dtype == torch.int64 else "float32")
    classes = int(y.max()) + 1
    net = keras.Model(inputs, keras.layers.TorchModuleWrapper(model, output_shape=(None, classes))(inputs))
    opt = (keras.optimizers.AdamW(cfg.lr, weight_decay=cfg.weight_decay) if cfg.optimizer == "adamw"
           else keras.optimizers.Adam(cfg.lr))
    net.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    net.fit(x.numpy(), y.numpy(), batch_size=cfg.batch_size, epochs=epochs, shuffle=True, verbose=0)


def run_lightning(model, x, y, cfg: TrainConfig, epochs: int) -> None:
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    class Lit(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = model

        def training_step(self, batch, _):
            xb, yb = batch
            return F.cross_entropy(self.net(xb), yb)

        def configure_optimizers(self):
            return optimizer_for(self.parameters(), cfg, fused=False)

    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Lit(), DataLoader(TensorDataset(x, y), batch_size=cfg.batch_size, shuffle=True))


def bench_case(label, template, dataset, n, epochs, rounds, store, peers) -> dict[str, float]:
    prepared = prepare(load_project(TEMPLATES / f"{template}.json"), dataset)
    cfg = prepared.config.replace(threads=1, epochs=epochs)
    x, y = prepared.splits.x_train[:n], prepared.splits.y_train[:n]
    base = prepared.model
    base.output_logits = True             # every variant trains on logits
    run = store.create_run(cfg.to_dict())     # created when Train is pressed, before the run starts
    variants = {"layerboard": lambda m: run_layerboard(m, x, y, cfg, epochs, store, run),
                "bare_fused": lambda m: hand_loop(m, x, y, cfg, epochs, trainer_step=True),
                "hand_written": lambda m: hand_loop(m, x, y, cfg, epochs),
                "ceiling": lambda m: forward_backward_only(m, x, y, cfg, epochs)}
    if "keras" in peers:
        variants["keras"] = lambda m: run_keras(m, x, y, cfg, epochs)
    if "lightning" in peers:
        variants["lightning"] = lambda m: run_lightning(m, x, y, cfg, epochs)
    for fn in variants.values():          # warm-up: lazy imports, first kernels
        fn(copy.deepcopy(base))
    wall: dict[str, list[float]] = {k: [] for k in variants}
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    names = list(variants)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:     # rotate the order each round
            torch.set_num_threads(1)
            model = copy.deepcopy(base)
            start, start_cpu = time.perf_counter(), time.process_time()
            variants[name](model)
            wall[name].append(len(x) * epochs / (time.perf_counter() - start))
            cpu[name].append(len(x) * epochs / (time.process_time() - start_cpu))
    # On a shared machine other processes steal the CPU: wall-clock figures swing 2-4x between
    # rounds. Samples per CPU-second of this process (all its threads) does not count time spent
    # waiting for a core, so its ratios are the stable figure; wall-clock medians are shown beside.
    c = {k: statistics.median(v) for k, v in cpu.items()}
    w = {k: statistics.median(v) for k, v in wall.items()}
    print(f"\n{label}: {len(x)} samples x {epochs} epochs, batch {cfg.batch_size}, {cfg.optimizer}")
    for name in names:
        print(f"  {name:<13} {c[name]:>9,.0f} samples/cpu-s  {w[name]:>9,.0f} samples/s wall   "
              f"layerboard / {name}: {c['layerboard'] / c[name]:.2f}x cpu  {w['layerboard'] / w[name]:.2f}x wall")
    print(f"  ceiling for any loop over hand_written (forward + backward only): "
          f"{c['ceiling'] / c['hand_written']:.2f}x cpu")
    print(f"  live metrics cost (layerboard vs the same loop without metrics): "
          f"{100 * (1 - c['layerboard'] / c['bare_fused']):+.1f}% cpu  {100 * (1 - w['layerboard'] / w['bare_fused']):+.1f}% wall")
    return c


def bench_start(store: Store, repeats: int = 5) -> None:
    """Seconds from submit (the Train button) to the first loss point in the app process's run log,
    LeNet-5 on MNIST; the registry's fork server is warm, the run's process loads the data itself."""
    project = json.loads((TEMPLATES / "lenet5.json").read_text())
    registry = JobRegistry(store)
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        job = registry.submit(f"start{i}", RunSpec(project, project["dataset"], project["training"]))
        while not job.log.series(["train/loss"]) and not job.done.is_set():
            time.sleep(0.001)
        seen = time.perf_counter()
        job.stop()
        job.wait(60)
        if i:                              # the first one waits for the fork server's warm-up
            times.append(seen - start)
    print(f"\nstart -> first loss point (warm app process, LeNet-5 on MNIST, a run's own process via "
          f"JobRegistry): median {statistics.median(times) * 1000:.0f} ms over {repeats}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", help="comma-separated case labels' first words (MLP,CNN,LSTM,Transformer)")
    parser.add_argument("--no-peers", action="store_true", help="skip Keras and Lightning")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"1 torch thread, {args.rounds} interleaved rounds")
    peers = () if args.no_peers else ("keras", "lightning")
    with tempfile.TemporaryDirectory() as home:
        store = Store(home)
        for case in CASES:
            if args.only and case[0].split()[0] not in args.only.split(","):
                continue
            bench_case(*case, rounds=args.rounds, store=store, peers=peers)
        bench_start(store)


if __name__ == "__main__":
    main()
