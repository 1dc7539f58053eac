import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from runtime.training import History, Trainer
from training_fixtures import mlp, quadrants
from ddp_worker import CONFIG

HERE = Path(__file__).resolve().parent


def test_two_cpu_ranks_end_identical_and_match_one_process_with_the_same_global_batch(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(HERE / "ddp_worker.py"), str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)

    history = History()
    single = mlp()
    Trainer(single, quadrants(n=960), CONFIG, callbacks=[history]).fit()
    curve = json.loads((tmp_path / "rank0.json").read_text())
    assert [s for s, _ in curve] == [s for s, _ in history.series["train/loss"]] == list(range(1, 3 * 12 + 1))
    assert torch.allclose(torch.tensor([v for _, v in curve]), torch.tensor(history.values("train/loss")),
                          rtol=1e-4, atol=1e-5)
    assert all(torch.allclose(rank0[k], single.state_dict()[k], atol=1e-4) for k in rank0)
