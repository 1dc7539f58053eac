"""One rank of the two-process DDP test (started by torchrun from test_distributed.py)."""
import json
import sys
from pathlib import Path

from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from runtime.distributed import World  # noqa: E402
from runtime.training import History, TrainConfig, Trainer  # noqa: E402
from training_fixtures import mlp, quadrants  # noqa: E402

CONFIG = TrainConfig(epochs=3, batch_size=64, lr=0.01, log_every=1, device="cpu", threads=1)

if __name__ == "__main__":
    out = Path(sys.argv[1])
    world = World.from_env("cpu")
    history = History()
    model = mlp()
    Trainer(model, quadrants(n=960), CONFIG, callbacks=[history], world=world).fit()
    save_file(model.state_dict(), str(out / f"rank{world.rank}.safetensors"))
    (out / f"rank{world.rank}.json").write_text(json.dumps(history.series["train/loss"]))
    world.close()
