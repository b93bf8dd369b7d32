"""Runs robomimic's own code on a file rldt wrote and exits non-zero when any of it fails.

usage: PYTHON check_robomimic_tools.py FILE.h5 WORKDIR [--train]
  PYTHON is the interpreter of the robomimic venv (.deps/robomimic-venv/bin/python, made by `make deps`).

1. robomimic/scripts/get_dataset_info.py on the whole file and with --filter_key train and valid (it asserts
   that actions lie in [-1, 1] and fails on an empty filter key);
2. robomimic.utils.dataset.SequenceDataset over the train mask (low-dim obs key from env_args, sequences of
   4 with padding, next_obs, all of it cached), one item checked for shapes and finite values;
3. with --train, robomimic/scripts/train.py with the bc algorithm for 3 training and 2 validation steps
   (train and valid masks; no rollouts, no saving, no tensorboard), writing into a new folder in WORKDIR.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np


def fail(msg):
    print(f"check_robomimic_tools: {msg}", file=sys.stderr)
    sys.exit(1)


def run(args, what):
    p = subprocess.run([sys.executable] + args, capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"{what} failed (exit {p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p.stdout


def main():
    if len(sys.argv) not in (3, 4) or (len(sys.argv) == 4 and sys.argv[3] != "--train"):
        fail("usage: check_robomimic_tools.py FILE.h5 WORKDIR [--train]")
    path, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    import robomimic
    import robomimic.scripts.get_dataset_info as info_script
    import robomimic.utils.obs_utils as ObsUtils
    from robomimic.utils.dataset import SequenceDataset

    # 1. get_dataset_info.py, whole and per mask
    for extra in ([], ["--filter_key", "train"], ["--filter_key", "valid"]):
        out = run([info_script.__file__, "--dataset", path] + extra, f"get_dataset_info.py {' '.join(extra)}")
        if "total trajectories" not in out:
            fail(f"get_dataset_info.py printed no summary:\n{out}")

    # 2. SequenceDataset on the train mask
    import h5py
    with h5py.File(path, "r") as f:
        kw = json.loads(f["data"].attrs["env_args"])["env_kwargs"]
    key, obs_dim, act_dim = kw["obs_key"], kw["obs_dim"], kw["act_dim"]
    ObsUtils.initialize_obs_utils_with_obs_specs({"obs": {"low_dim": [key], "rgb": []}})
    ds = SequenceDataset(hdf5_path=path, obs_keys=(key,), dataset_keys=("actions", "rewards", "dones"), seq_length=4,
                         pad_seq_length=True, hdf5_cache_mode="all", filter_by_attribute="train", load_next_obs=True)
    if len(ds) < 1:
        fail("SequenceDataset holds no samples")
    item = ds[len(ds) // 2]
    for name, arr, shape in (("obs", item["obs"][key], (4, obs_dim)), ("next_obs", item["next_obs"][key], (4, obs_dim)),
                             ("actions", item["actions"], (4, act_dim))):
        if arr.shape != shape or not np.all(np.isfinite(arr)):
            fail(f"SequenceDataset item {name}: shape {arr.shape} (expected {shape}) or non-finite values")
    if np.abs(item["actions"]).max() > 1:
        fail("SequenceDataset actions outside [-1, 1]")

    # 3. scripts/train.py, algo bc, a few steps
    if len(sys.argv) == 4:
        from robomimic.config import config_factory
        import robomimic.scripts.train as train_script
        config = config_factory("bc")
        with config.values_unlocked():
            config.experiment.name = "rldt_check"
            config.experiment.validate = True
            config.experiment.logging.terminal_output_to_txt = False
            config.experiment.logging.log_tb = False
            config.experiment.save.enabled = False
            config.experiment.rollout.enabled = False
            config.experiment.epoch_every_n_steps = 3
            config.experiment.validation_epoch_every_n_steps = 2
            config.train.data = path
            config.train.output_dir = tempfile.mkdtemp(prefix="robomimic_out_", dir=work)
            config.train.num_data_workers = 0
            config.train.hdf5_cache_mode = "all"
            config.train.hdf5_filter_key = "train"
            config.train.hdf5_validation_filter_key = "valid"
            config.train.batch_size = 8
            config.train.num_epochs = 1
            config.train.seq_length = 1
            config.observation.modalities.obs.low_dim = [key]
            config.observation.modalities.obs.rgb = []
        cfg_path = os.path.join(work, "robomimic_bc.json")
        with open(cfg_path, "w") as f:
            f.write(config.dump())
        out = run([train_script.__file__, "--config", cfg_path], "train.py (bc)")
        if "finished run successfully" not in out:
            fail(f"train.py did not finish:\n{out[-3000:]}")
    print(f"check_robomimic_tools: {path}: robomimic {robomimic.__version__} get_dataset_info, SequenceDataset"
          f"{' and train.py (bc)' if len(sys.argv) == 4 else ''} ok")


if __name__ == "__main__":
    main()
