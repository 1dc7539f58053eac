"""`export`, `import` and `bundle`: ONNX out (verified), ONNX in (as an editable project), a runnable zip."""
from __future__ import annotations

import sys

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
    result.write(args.onnx)
    print(result.verification.summary())
    print(f"Wrote {args.onnx} ({len(result.data):,} bytes, {result.metadata['exporter']} exporter, "
          f"output {result.metadata['output']}) in {result.seconds:.2f} s.")
    return 0
