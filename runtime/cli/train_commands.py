"""`train`, `runs` and `resume`: headless training with a progress bar or JSON lines, into the store."""
from __future__ import annotations

import hashlib
import json
import math
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text
from safetensors.torch import save_file

from runtime.checkpoints import CheckpointError, read_position
from runtime.cli.lines import figures, item_lines, wrap
from runtime.distributed import World
from runtime.graph import Project, ProjectFileError, load_project
from runtime.store import LIVE, RunInfo, Store, StoreError
from runtime.timestamps import short_time
from runtime.training import Callback, Checkpointer, RunControl, TrainResult
from runtime.training.recording import RunRecorder, error_message
from runtime.training.session import prepare

FAILED = ("diverged", "failed")


def register(commands) -> None:
    p = commands.add_parser("train", help="train a project file headless (also under torchrun)")
    p.add_argument("file")
    p.add_argument("--dataset", help="dataset name (default: the project's dataset section)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--threads", type=int, help="torch threads (default: the project's setting, else all cores)")
    p.add_argument("--weights", metavar="CKPT",
                   help="start from a checkpoint's weights (.json/.safetensors pair): an imported model's "
                        "(python -m runtime import) starts at epoch 1; a run's, or --out's, continues "
                        "its epoch count and optimizer state with these settings")
    p.add_argument("--out", help="folder for the trained weights, checkpoint, project and results")
    p.add_argument("--jsonl", action="store_true", help="stream metrics as JSON lines instead of a progress bar")
    p.set_defaults(run=_train)
    p = commands.add_parser("runs", help="list the stored training runs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_runs)
    p = commands.add_parser("resume", help="continue a stopped or interrupted run from its last checkpoint")
    p.add_argument("run_id")
    p.add_argument("--epochs", type=int, help="train to this many epochs in total")
    p.add_argument("--jsonl", action="store_true")
    p.add_argument("--out")
    p.set_defaults(run=_resume)


def _train(args) -> int:
    try:
        project = load_project(args.file)
    except ProjectFileError as e:
        print(f"{args.file}: {e}", file=sys.stderr)
        return 1
    overrides = {k: v for k, v in {"epochs": args.epochs, "device": args.device, "batch_size": args.batch_size,
                                   "lr": args.lr, "seed": args.seed, "threads": args.threads}.items()
                 if v is not None}
    dataset = {"name": args.dataset} if args.dataset else None
    project_id = "file-" + hashlib.sha1(str(Path(args.file).resolve()).encode()).hexdigest()[:10]
    start = Path(args.weights) if args.weights else None
    return _run(project, project_id, dataset, overrides, args, run_id=None, checkpoint=start, fork=True)


def _resume(args) -> int:
    store = Store()
    try:
        info = store.run(args.run_id)
        project = store.load_project(info.project_id, info.project_version)
    except StoreError as e:
        print(e, file=sys.stderr)
        return 1
    if info.status in LIVE:
        print(f"Run {info.id} is {info.status} in another process: stop it (Ctrl-C there, or Stop in the app) "
              "before resuming it.", file=sys.stderr)
        return 1
    checkpoints = store.checkpoints(info.id)
    if not checkpoints:
        print(f"Run {info.id} has no checkpoint to resume from (it ended before its first epoch).", file=sys.stderr)
        return 1
    try:
        position = read_position(checkpoints[-1])
    except CheckpointError as e:
        print(e, file=sys.stderr)
        return 1
    # Epochs count as the progress bar and `runs` show them: a fork's go on from its parent's (offset), while
    # its settings hold the epochs it trains on top.
    offset, trained = position["epoch_offset"], position["epoch_offset"] + position["epoch"]
    overrides = dict(info.config)
    if args.epochs is not None:      # below 1 it stays as typed, for the settings check to refuse
        overrides["epochs"] = args.epochs - offset if args.epochs >= 1 else args.epochs
    asked = args.epochs if args.epochs is not None else overrides.get("epochs", 0) + offset
    if 1 <= asked <= trained:
        print(f"Run {info.id} has already trained {trained} of the {asked} epochs asked for "
              f"({info.status}): `python -m runtime resume {info.id} --epochs {trained + 5}` trains 5 more.",
              file=sys.stderr)
        return 1
    return _run(project, info.project_id, info.dataset or None, overrides, args, run_id=info.id,
                checkpoint=checkpoints[-1])


def _run(project: Project, project_id: str, dataset: dict | None, overrides: dict, args,
         run_id: str | None, checkpoint: Path | None, fork: bool = False) -> int:
    """Trains (or, from `checkpoint`, resumes exactly; with `fork`, starts from its weights)."""
    if args.out:
        try:
            _writable(Path(args.out))
        except OSError as e:
            print(f"--out {args.out}: cannot write there ({e.strerror}).", file=sys.stderr)
            return 1
    world, created = None, False
    try:
        world = World.from_env(overrides.get("device", project.training.get("device", "auto")))
        prepared = prepare(project, dataset, overrides)
        main = world is None or world.is_main
        callbacks: list[Callback] = []
        store = Store() if main else None
        if store is not None:
            if run_id is None:
                _, version = store.save_project(project, project_id)
                run_id = store.create_run(prepared.config.to_dict(), project_id=project_id, project_version=version,
                                          name=project.name, dataset=dataset or dict(project.dataset))
                created = True
            callbacks += [RunRecorder(store, run_id), Checkpointer(store.run_dir(run_id))]
            callbacks.append(JsonLines(run_id) if args.jsonl else ProgressBar(run_id))
        control = RunControl()
        trainer = prepared.trainer(callbacks, control, world)
        with _ctrl_c_stops(control):
            result = trainer.fit(resume_from=checkpoint, fork=fork)
        test = trainer.evaluate("test") if len(prepared.splits.y_test) else None
        if main:
            _report(result, test, run_id, args)
            if args.out:
                _write_out(Path(args.out), trainer, project, result, test, run_id)
        return 1 if result.status in FAILED else 0
    except (ValueError, StoreError) as e:            # settings, data, graph, checkpoint: the user's to fix
        message = error_message(e)
        print(message, file=sys.stderr)
        if created and store.run(run_id).status in LIVE:     # refused before it trained (e.g. --weights)
            store.update_run(run_id, status="failed", message=message, ended=time.time())
        return 1
    finally:
        if world is not None:
            world.close()


def _writable(out: Path) -> None:
    """Creates --out before training, so a folder that cannot be written fails at once, not after the run."""
    out.mkdir(parents=True, exist_ok=True)
    probe = out / ".layerboard-write-test"
    probe.touch()
    probe.unlink()


@contextmanager
def _ctrl_c_stops(control: RunControl) -> Iterator[None]:
    """Ctrl-C stops the run after its current step, with a checkpoint to resume from."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda *_: control.stop())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _report(result: TrainResult, test: Any, run_id: str, args) -> None:
    values = {**result.metrics, **(test.metrics if test else {})}
    if args.jsonl:
        print(json.dumps({"event": "end", "run_id": run_id, "status": result.status, "reason": result.reason,
                          "metrics": _finite(values)}), flush=True)
        return
    console = Console(stderr=False, highlight=False)
    shown = figures({k: v for k, v in values.items() if k.startswith(("val/", "test/")) or k == "train/loss_epoch"})
    for i, line in enumerate(wrap(f"{result.status}: {result.reason}. {shown}", console.width)):
        text = Text(line)
        if i == 0:
            text.stylize("red" if result.status in FAILED else "green", 0, len(result.status))
        console.print(text)
    console.print(f"run {run_id}: `python -m runtime resume {run_id}` continues it.")


def _write_out(out: Path, trainer, project: Project, result: TrainResult, test: Any, run_id: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in trainer.model.state_dict().items()},
              str(out / "model.safetensors"))
    trainer.save_checkpoint(out / "checkpoint")
    trained = project.copy()
    trained.training = trainer.config.to_dict()
    trained.save(out / "project.json")
    results = {"run_id": run_id, "status": result.status, "reason": result.reason, "epochs": result.epochs_done,
               "metrics": _finite({**result.metrics, **(test.metrics if test else {})})}
    if test is not None and test.report is not None:
        results["confusion"] = test.report.confusion
        results["precision"], results["recall"] = test.report.precision, test.report.recall
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def _finite(metrics: dict[str, float]) -> dict[str, float | None]:
    return {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}


class JsonLines(Callback):
    """One JSON object per measurement: {"step": 120, "train/loss": 0.31, ...}."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def on_train_start(self, trainer) -> None:
        last_epoch = trainer.epoch_offset + trainer.config.epochs     # a fork counts on from its parent's
        print(json.dumps({"event": "start", "run_id": self.run_id, "epochs": last_epoch,
                          "steps_per_epoch": trainer.steps_per_epoch}), flush=True)

    def on_metrics(self, trainer, step: int, metrics: dict[str, float]) -> None:
        print(json.dumps({"step": step, **_finite(metrics)}), flush=True)


class ProgressBar(Callback):
    """Epoch, loss, metric, samples/s and time left, redrawn a few times a second by rich."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.progress = Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(),
                                 TextColumn("loss {task.fields[loss]}  {task.fields[metric]}  "
                                            "{task.fields[speed]} samples/s"), TimeRemainingColumn())
        self.fields = {"epoch": "1", "loss": "-", "metric": "", "speed": "-"}

    def on_train_start(self, trainer) -> None:
        self.epochs = trainer.epoch_offset + trainer.config.epochs     # a fork counts on from its parent's
        self.fields["epoch"] = f"{trainer.epoch_offset + trainer.epoch + 1}/{self.epochs}"
        self.task = self.progress.add_task("train", total=trainer.config.epochs * trainer.steps_per_epoch,
                                           completed=trainer.epoch * trainer.steps_per_epoch + trainer.batch,
                                           **self.fields)
        self.base = trainer.step - (trainer.epoch * trainer.steps_per_epoch + trainer.batch)
        self.progress.start()

    def on_metrics(self, trainer, step: int, metrics: dict[str, float]) -> None:
        if "train/loss" in metrics:
            self.fields["loss"] = f"{metrics['train/loss']:.4f}"
        for name in ("val/acc", "val/r2"):
            if name in metrics:
                self.fields["metric"] = f"{name} {metrics[name]:.4f}"
        if "samples_per_s" in metrics:
            self.fields["speed"] = f"{metrics['samples_per_s']:,.0f}"
        if "epoch" in metrics:
            self.fields["epoch"] = f"{min(int(metrics['epoch']) + 1, self.epochs)}/{self.epochs}"
        self.progress.update(self.task, completed=step - self.base, **self.fields)

    def on_losses(self, trainer, first_step: int, losses: list[float]) -> None:
        self.on_metrics(trainer, first_step + len(losses) - 1, {"train/loss": losses[-1]})

    def on_train_end(self, trainer, result) -> None:
        self.progress.stop()

    def on_exception(self, trainer, error) -> None:
        self.progress.stop()


def _runs(args) -> int:
    runs = Store().list_runs()
    if args.json:
        print(json.dumps([{"id": r.id, "project_id": r.project_id, "name": r.name, "status": r.status,
                           "message": r.message, "epochs_done": r.epochs_done, "created": r.created,
                           "final_metrics": _finite(r.final_metrics)} for r in runs], indent=2))
        return 0
    if not runs:
        print("No runs yet: `python -m runtime train FILE` starts one.")
        return 0
    console = Console(highlight=False)
    for line in _run_table(runs, console.width, time.time()):
        console.print(line)
    return 0


RUN_COLUMNS = ("run", "project", "status", "epochs", "validation", "started")
STATUS_STYLES = {"completed": "green", "early_stopped": "green", "diverged": "red", "failed": "red"}


def _run_table(runs: list[RunInfo], width: int, now: float) -> list[Text]:
    """A line per run, its message wrapped below it; long project names give way first."""
    rows = [(r.id, r.name, Text(r.status, style=STATUS_STYLES.get(r.status, "")), str(r.epochs_done),
             _validation(r.final_metrics), short_time(r.started or r.created, now)) for r in runs]
    return item_lines(RUN_COLUMNS, rows, [r.message for r in runs], width,
                      gives_way=RUN_COLUMNS.index("project"), right_aligned={RUN_COLUMNS.index("epochs")})


def _validation(metrics: dict[str, float]) -> str:
    """The run's headline validation figure: 'acc 0.9312', else 'r2 ...', else 'loss ...'."""
    key = next((k for k in ("val/acc", "val/r2", "val/loss") if k in metrics), None)
    return f"{key.removeprefix('val/')} {metrics[key]:.4g}" if key else ""
