"""A multi-host run as two processes on 127.0.0.1, each with two fake CPU devices."""

import json
import os
import socket
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_run_counts_eval_once(tmp_path):
    port = _free_port()
    workdir = tmp_path / "run"
    overrides = [
        f"--config.task.cache_dir={tmp_path / 'cache'}",
        "--config.task.max_length=48",
        "--config.task.num_train=64",
        "--config.task.num_val=37",
        "--config.task.num_test=29",
        "--config.task.min_length=4",
        "--config.task.max_length_bound=40",
        "--config.model.num_layers=1",
        "--config.model.width=16",
        "--config.batch_size=8",
        "--config.eval_batch_size=12",
        "--config.num_epochs=2",
        "--config.wandb.mode=disabled",
    ]
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu"
    )
    processes = []
    for process_id in range(2):
        command = [
            sys.executable,
            "-m",
            "launch.train",
            "--config=configs/listops.py:model=tnn,smoke",
            f"--workdir={workdir}",
            "--distributed",
            f"--coordinator_address=127.0.0.1:{port}",
            "--num_processes=2",
            f"--process_id={process_id}",
            *overrides,
        ]
        processes.append(
            subprocess.Popen(
                command,
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [process.communicate(timeout=400) for process in processes]
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]

    summary = json.loads((workdir / "summary.json").read_text())
    assert summary["num_devices"] == 4
    assert summary["steps"] == 16
    assert summary["test_examples"] == 29
    # Only process 0 prints the report and writes the workdir files.
    assert "test accuracy" in outputs[0][0]
    assert "test accuracy" not in outputs[1][0]
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    steps_logged = [r["step"] for r in records if "val/accuracy" in r]
    assert steps_logged == [8, 16]
