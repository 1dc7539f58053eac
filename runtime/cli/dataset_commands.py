"""`datasets`: list the sample datasets and the uploads kept in the data directory, or describe one
(and, with --load, load it and show the splits); `--delete` removes an upload no project trains on."""
from __future__ import annotations

import json
import sys
from typing import Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from runtime import datasets
from runtime.cli.lines import item_lines
from runtime.datasets.registry import Dataset


def register(commands) -> None:
    p = commands.add_parser("datasets", help="list the sample datasets and your uploads, or describe one: "
                                             "datasets NAME")
    p.add_argument("name", nargs="?", help="a dataset id such as mnist or upload:<id>; leave out to list them all")
    p.add_argument("--load", action="store_true", help="also load it and show split sizes and normalization")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--delete", action="store_true",
                   help="remove the upload NAME from the data directory (refused while a project trains on it)")
    p.set_defaults(run=_run)


def _shape(d: Dataset) -> str:
    shape = d.shape_for(d.all_options())
    return "x".join(map(str, shape))


def describe_dict(d: Dataset) -> dict:
    spec = datasets.spec(d.id)
    return {"id": d.id, "title": d.title, "task": d.task, "kind": d.kind, "shape": list(spec.input_shape),
            "dtype": spec.input_dtype, "output_size": spec.output_size, "classes": list(d.class_names),
            "size": d.size, "source": d.source, "licence": d.licence, "credits": d.credits,
            "description": d.description, "synthetic": d.synthetic, "options": d.all_options()}


def _list(args, console: Console) -> int:
    uploads = datasets.saved_uploads()
    if args.json:
        print(json.dumps([describe_dict(d) for d in [*datasets.DATASETS.values(), *uploads]], indent=2))
        return 0
    _table(console, "Sample datasets (python -m runtime datasets NAME describes one)", datasets.DATASETS.values())
    if uploads:
        _table(console, "Your uploads (train on one with --dataset upload:<id>)", uploads)
    else:
        console.print("No uploads yet: add your own data (CSV, NPZ or a zip of image folders) in the app's "
                      "Data & training tab.", highlight=False)
    return 0


DATASET_COLUMNS = ("name", "task", "shape", "size")


def _table(console: Console, title: str, listed: Iterable[Dataset]) -> None:
    """A line per dataset, its source wrapped below it; long sizes give way first."""
    found = list(listed)
    console.print(Text(title, style="bold"))
    for line in item_lines(DATASET_COLUMNS, [(d.id, d.task, _shape(d), d.size) for d in found],
                           [d.source for d in found], console.width, gives_way=DATASET_COLUMNS.index("size")):
        console.print(line)


def _describe(args, console: Console) -> int:
    try:
        d = datasets.declaration(args.name)
    except datasets.DatasetError as e:
        print(str(e), file=sys.stderr)
        return 2
    info = describe_dict(d)
    if args.load:
        try:
            splits = datasets.load(d.id)
        except datasets.DatasetError as e:
            print(f"{d.id}: {e}", file=sys.stderr)
            return 1
        info["splits"] = splits.sizes()
        info["normalization"] = splits.normalization
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    console.print(f"[bold]{d.title}[/] ({d.id}){'  [yellow]synthetic[/]' if d.synthetic else ''}")
    console.print(d.description, highlight=False)
    rows = [("task", d.task), ("sample shape", f"{info['shape']} {info['dtype']}"),
            ("output size", str(info["output_size"])), ("classes", ", ".join(d.class_names) or "-"),
            ("size", d.size), ("source", d.source), ("licence", d.licence), ("credits", d.credits),
            ("options", ", ".join(f"{k}={v!r}" for k, v in info["options"].items()))]
    if args.load:
        rows += [("splits", ", ".join(f"{k} {v:,}" for k, v in info["splits"].items())),
                 ("normalization", json.dumps(info["normalization"]) if info["normalization"] else "token ids")]
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    return 0


def _delete(args) -> int:
    from runtime.projects import remove_upload
    from runtime.store import Store
    if not args.name:
        print("--delete needs the upload's name: datasets upload:<id> --delete (datasets lists them).", file=sys.stderr)
        return 2
    try:
        title = remove_upload(Store(), args.name)
    except datasets.DatasetError as e:
        print(str(e), file=sys.stderr)
        return 1
    print(f"Removed {title} ({args.name}) from the data directory.")
    return 0


def _run(args) -> int:
    if args.delete:
        return _delete(args)
    console = Console(soft_wrap=False)
    return _describe(args, console) if args.name else _list(args, console)
