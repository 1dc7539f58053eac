"""`export`, `import` and `bundle`: ONNX out (verified), ONNX in (as an editable project), a runnable zip."""
from __future__ import annotations

import sys
from pathlib import Path

from runtime.graph import ProjectFileError, load_project


def register(commands) -> None:
    p = commands.add_parser("export", help="export a project to a verified .onnx file; exit 1 if the check fails")
    p.add_argument("file", help="project file (.json)")
    p.add_argument("--onnx", required=True, metavar="OUT.onnx", help="where to write the model")
    p.add_argument("--weights", metavar="CKPT", help="trained checkpoint (.json/.safetensors pair); default: "
                                                     "freshly initialized weights")
    p.add_argument("--probabilities", action="store_true", help="output class probabilities instead of logits")
    p.add_argument("--exporter", choices=("torchscript", "dynamo"),
                   help="default: dynamo for models with attention, torchscript otherwise")
    p.add_argument("--generated", action="store_true",
                   help="verify on generated samples instead of the project's dataset")
    p.set_defaults(run=_export)
    p = commands.add_parser("import", help="turn an .onnx model into an editable project (+ its weights)")
    p.add_argument("model", metavar="MODEL.onnx")
    p.add_argument("-o", "--output", required=True, metavar="PROJECT.json", help="project file to write; the "
                   "weights go next to it as a checkpoint (PROJECT-weights.safetensors + .json)")
    p.add_argument("--input-shape", type=int, nargs="+", metavar="N",
                   help="one sample's shape where the file leaves sizes open, e.g. 50 for 50 steps")
    p.set_defaults(run=_import)
    p = commands.add_parser("bundle", help="a zip with the verified .onnx, weights, project, model.py and a "
                                           "standalone train.py")
    p.add_argument("file", help="project file (.json)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.zip")
    p.add_argument("--weights", metavar="CKPT", help="trained checkpoint; default: freshly initialized weights")
    p.add_argument("--probabilities", action="store_true", help="the .onnx outputs probabilities, not logits")
    p.set_defaults(run=_bundle)


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def _export(args) -> int:
    from runtime import checkpoints
    from runtime.datasets import DatasetError
    from runtime.onnx.errors import OnnxError
    from runtime.onnx.project_export import SampleData, dataset_samples, export_project, generated_samples
    from runtime.projects import compile_project
    try:
        project = load_project(args.file)
    except ProjectFileError as e:
        return _fail(f"{args.file}: {e}")
    compiled = compile_project(project)
    weights = None
    if args.weights:
        try:
            weights, _ = checkpoints.load(args.weights)
        except checkpoints.CheckpointError as e:
            return _fail(str(e))
    try:
        data = None
        if compiled.ok:
            data = SampleData(generated_samples(compiled, 32), "generated") if args.generated \
                else dataset_samples(project, compiled)
        result = export_project(project, compiled, weights, probabilities=args.probabilities, data=data,
                                exporter=args.exporter)
    except DatasetError as e:
        return _fail(f"{args.file}: {e} (or verify on generated samples with --generated)")
    except OnnxError as e:
        verification = getattr(e, "verification", None)
        if verification is not None:
            print(verification.summary())
        return _fail(f"{args.file}: {e}")
    Path(args.onnx).parent.mkdir(parents=True, exist_ok=True)
    result.write(args.onnx)
    print(result.verification.summary())
    print(f"Wrote {args.onnx} ({len(result.data):,} bytes, {result.metadata['exporter']} exporter, "
          f"output {result.metadata['output']}) in {result.seconds:.2f} s.")
    return 0


def _import(args) -> int:
    from runtime import checkpoints
    from runtime.onnx.errors import OnnxError
    from runtime.onnx.importer import import_onnx
    try:
        imported = import_onnx(args.model, input_shape=args.input_shape)
    except OnnxError as e:
        return _fail(f"{args.model}: {e}")
    target = Path(args.output)
    target.parent.mkdir(parents=True, exist_ok=True)
    imported.project.save(target)
    stem = target.with_name(target.stem + "-weights")
    checkpoints.save(stem, imported.weights, {"source": Path(args.model).name})
    layers = [n.type for n in imported.project.graph.nodes if n.type not in ("Input", "Output")]
    print(f"Imported {len(layers)} layers ({', '.join(sorted(set(layers)))}); matches onnxruntime within "
          f"{imported.max_abs_diff:.3g} (max abs diff).")
    print(f"Wrote {target} and weights {stem}.safetensors; train from them or export them again with "
          f"--weights {stem}.json")
    return 0


def _bundle(args) -> int:
    from runtime import checkpoints
    from runtime.datasets import DatasetError
    from runtime.onnx.bundle import build_bundle
    from runtime.onnx.errors import OnnxError
    try:
        project = load_project(args.file)
        weights = checkpoints.load(args.weights)[0] if args.weights else None
        data, exported = build_bundle(project, weights, probabilities=args.probabilities)
    except (ProjectFileError, checkpoints.CheckpointError, DatasetError, OnnxError) as e:
        return _fail(f"{args.file}: {e}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_bytes(data)
    print(exported.verification.summary())
    print(f"Wrote {args.output} ({len(data):,} bytes): unzip it, then `python train.py` or load model.onnx.")
    return 0
