"""Trains the bundled model again with plain PyTorch, with the settings of the Layerboard run.

Copied verbatim into each bundle as train.py; it reads settings.json (the run's settings),
data.safetensors (the dataset's splits, already normalized) and model.py (the network).
    python train.py                  # the run's settings
    python train.py --epochs 1       # a quick check
Writes trained.safetensors, which model.py's class loads with load_state_dict.
"""
import argparse
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from torch.optim import lr_scheduler

HERE = Path(__file__).resolve().parent


def make_optimizer(model, s):
    params = [p for p in model.parameters() if p.requires_grad]
    if s["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=s["lr"], weight_decay=s["weight_decay"])
    if s["optimizer"] == "adamw":
        return torch.optim.AdamW(params, lr=s["lr"], weight_decay=s["weight_decay"])
    if s["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=s["lr"], momentum=s["momentum"], weight_decay=s["weight_decay"],
                               nesterov=s["nesterov"] and s["momentum"] > 0)
    return torch.optim.RMSprop(params, lr=s["lr"], momentum=s["momentum"], weight_decay=s["weight_decay"])


def make_schedule(optimizer, s, steps_per_epoch, mode):
    """(per-step scheduler or None, plateau scheduler or None)."""
    total = max(1, s["epochs"] * steps_per_epoch)
    warmup = min(s["warmup_epochs"] * steps_per_epoch, total - 1)
    if s["schedule"] == "onecycle":
        pct = warmup / total if warmup else 0.3
        return lr_scheduler.OneCycleLR(optimizer, max_lr=s["lr"], total_steps=total,
                                       pct_start=max(pct, 1e-3)), None
    main, plateau = None, None
    if s["schedule"] == "step":
        main = lr_scheduler.StepLR(optimizer, step_size=s["step_size"] * steps_per_epoch, gamma=s["gamma"])
    elif s["schedule"] == "cosine":
        main = lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total - warmup))
    elif s["schedule"] == "plateau":
        plateau = lr_scheduler.ReduceLROnPlateau(optimizer, mode=mode, factor=s["gamma"],
                                                 patience=s["plateau_patience"])
    if warmup:
        ramp = lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters=warmup)
        main = ramp if main is None else lr_scheduler.SequentialLR(optimizer, [ramp, main], milestones=[warmup])
    return main, plateau


def make_loss(name, s, task, final_activation):
    if name == "cross_entropy":
        return lambda out, y: F.cross_entropy(out, y, label_smoothing=s["label_smoothing"])
    if name == "bce":
        def binary(out, y):
            if task == "classification":
                y = y.float().reshape(out.shape) if out.shape[-1] == 1 else F.one_hot(y, out.shape[-1]).float()
            bce = F.binary_cross_entropy if final_activation == "Sigmoid" else F.binary_cross_entropy_with_logits
            return bce(out, y.reshape(out.shape))
        return binary
    plain = {"mse": F.mse_loss, "mae": F.l1_loss, "huber": F.huber_loss}[name]
    return lambda out, y: plain(out, y.reshape(out.shape))


def augment_images(x, a, g):   # (B, C, H, W): one random shift + rotation per sample, flips, noise
    b = x.shape[0]
    angle = (torch.rand(b, generator=g) * 2 - 1) * math.radians(a["rotate_degrees"])
    shift = (torch.rand(b, 2, generator=g) * 2 - 1) * 2 * a["shift"]
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    out = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False),
                        padding_mode="border", align_corners=False)
    for flip, dim in ((a["hflip"], 3), (a["vflip"], 2)):
        if flip:
            out = torch.where(torch.rand(b, 1, 1, 1, generator=g) < 0.5, out.flip(dim), out)
    return out + a["noise"] * torch.randn(out.shape, generator=g) if a["noise"] > 0 else out


def augment_sequences(x, a, g):   # (B, steps, features): per-sample gain per feature, per-value jitter
    gain = 1 + a["scaling"] * torch.randn((x.shape[0], 1, x.shape[2]), generator=g)
    return x * gain + a["jitter"] * torch.randn(x.shape, generator=g)


def evaluate(model, x, y, loss_fn, task, batch=1024):
    model.eval()
    with torch.no_grad():
        out = torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])
    model.train()
    metrics = {"val/loss": float(loss_fn(out, y))}
    if task == "classification":
        pred = out.argmax(-1) if out.shape[-1] > 1 else (out.reshape(-1) > 0).long()
        metrics["val/acc"] = float((pred == y).float().mean())
    else:
        y = y.reshape(out.shape)
        metrics["val/mae"] = float((out - y).abs().mean())
        metrics["val/r2"] = float(1 - ((out - y) ** 2).sum() / ((y - y.mean(0)) ** 2).sum().clamp_min(1e-12))
    return metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, help="override the run's number of epochs")
    parser.add_argument("--out", default="trained.safetensors", help="where to write the trained weights")
    args = parser.parse_args()
    settings = json.loads((HERE / "settings.json").read_text())
    s = settings["training"]
    if args.epochs:
        s["epochs"] = args.epochs
    if s["threads"]:
        torch.set_num_threads(s["threads"])
    data = load_file(str(HERE / "data.safetensors"))
    x, y = data["x_train"], data["y_train"]
    x_val, y_val = data.get("x_val", data["x_test"]), data.get("y_val", data["y_test"])
    task = settings["task"]

    import model as generated   # model.py next to this file: the network, plain PyTorch
    torch.manual_seed(s["seed"])
    model = getattr(generated, settings["model_class"])()
    if settings["final_layer_skipped_in_training"]:
        # The loss wants raw scores: the final Softmax passes its input through while training.
        final = getattr(model, settings["final_layer_skipped_in_training"])
        skip = final.register_forward_hook(lambda module, inputs, output: inputs[0])
    loss_fn = make_loss(settings["loss"], s, task, settings["final_activation"])
    optimizer = make_optimizer(model, s)
    steps = math.ceil(len(x) / s["batch_size"])
    mode = "max" if s["monitor"] in ("val/acc", "val/r2") else "min"
    per_step, plateau = make_schedule(optimizer, s, steps, mode)
    params = [p for p in model.parameters() if p.requires_grad]
    l1_params = [p for p in params if p.dim() > 1]
    order, noise = torch.Generator().manual_seed(s["seed"]), torch.Generator().manual_seed(s["seed"] + 1)
    augment = {"image": augment_images, "sequence": augment_sequences}.get(settings["augment_kind"])
    torch.manual_seed(s["seed"])
    best, best_state, bad = None, None, 0
    for epoch in range(s["epochs"]):
        started, total = time.perf_counter(), 0.0
        perm = torch.randperm(len(x), generator=order)
        for i in range(steps):
            idx = perm[i * s["batch_size"]:(i + 1) * s["batch_size"]]
            xb, yb = x[idx], y[idx]
            if augment and settings["augment"]:
                xb = augment(xb, settings["augment"], noise)
            loss = loss_fn(model(xb), yb)
            if s["l1"]:
                loss = loss + s["l1"] * sum(p.abs().sum() for p in l1_params)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if s["clip"] == "norm":
                nn.utils.clip_grad_norm_(params, s["clip_value"])
            elif s["clip"] == "value":
                nn.utils.clip_grad_value_(params, s["clip_value"])
            optimizer.step()
            if per_step is not None:
                per_step.step()
            step_loss = loss.item()
            total += step_loss * len(idx)
            if not math.isfinite(step_loss):
                raise SystemExit(f"The loss became {step_loss} at epoch {epoch + 1}: lower the learning rate.")
        metrics = {"train/loss": total / len(x), **evaluate(model, x_val, y_val, loss_fn, task)}
        print(f"epoch {epoch + 1}/{s['epochs']}  " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()) +
              f"  ({time.perf_counter() - started:.1f} s)", flush=True)
        value = metrics.get(s["monitor"], metrics["train/loss"])
        if plateau is not None:
            plateau.step(value)
        if best is None or (value > best + s["min_delta"] if mode == "max" else value < best - s["min_delta"]):
            best, bad = value, 0
            if s["early_stopping"] and s["restore_best"]:
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
            if s["early_stopping"] and bad > s["patience"]:
                print(f"early stopping: {s['monitor']} did not improve for {bad} epochs")
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    test = evaluate(model, data["x_test"], data["y_test"], loss_fn, task)
    if settings["final_layer_skipped_in_training"]:
        skip.remove()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(HERE / args.out))
    print(f"wrote {args.out}; test: " + "  ".join(f"{k.replace('val/', '')} {v:.4f}" for k, v in test.items()))


if __name__ == "__main__":
    main()
