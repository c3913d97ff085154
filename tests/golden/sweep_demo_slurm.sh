#!/bin/bash
#SBATCH --job-name=demo
#SBATCH --array=0-3
#SBATCH --partition=YOUR_PARTITION
#SBATCH --gres=gpu:1
#SBATCH --output=%x-%A_%a.out
# Edit the partition and GPU lines, and add a time limit, for your cluster.
set -euo pipefail
cd /path/to/tnn-lra
COMMANDS=(
  'python3 -m launch.train --config=configs/listops.py:model=tnn,smoke --workdir=/mnt/shared/demo/listops_tnn --config.wandb.group=demo --config.task.min_length=30 --config.task.max_length_bound=250 --config.task.max_length=256 --config.num_epochs=8'
  'python3 -m launch.train --config=configs/listops.py:model=ski,smoke --workdir=/mnt/shared/demo/listops_ski --config.wandb.group=demo --config.task.min_length=30 --config.task.max_length_bound=250 --config.task.max_length=256 --config.num_epochs=8'
  'python3 -m launch.train --config=configs/listops.py:model=sparse_ski,smoke --workdir=/mnt/shared/demo/listops_sparse_ski --config.wandb.group=demo --config.task.min_length=30 --config.task.max_length_bound=250 --config.task.max_length=256 --config.num_epochs=8'
  'python3 -m launch.train --config=configs/listops.py:model=fd,smoke --workdir=/mnt/shared/demo/listops_fd --config.wandb.group=demo --config.task.min_length=30 --config.task.max_length_bound=250 --config.task.max_length=256 --config.num_epochs=8'
)
echo "Array task ${SLURM_ARRAY_TASK_ID}: ${COMMANDS[$SLURM_ARRAY_TASK_ID]}"
eval "${COMMANDS[$SLURM_ARRAY_TASK_ID]}"
