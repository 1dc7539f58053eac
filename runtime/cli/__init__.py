"""`python -m runtime COMMAND ...`: each command group lives in its own module with `register()`."""
from __future__ import annotations

import argparse
import sys

from runtime.cli import dataset_commands, graph_commands, onnx_commands, train_commands

COMMAND_MODULES = [graph_commands, dataset_commands, onnx_commands, train_commands]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime",
                                     description="Layerboard: validate, train and export drawn networks.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands)
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
