"""NoGAN training of the colorizer generator: pretrain it alone, pretrain a critic on its
output, then a short GAN phase that adds realistic colour without GAN instability.

Phases (`--phase all` runs them in order; `--cycles N` repeats phases 2 and 3 N times):
  1. pretrain-g       the generator alone, perceptual (VGG16 feature) loss, crops growing 64 -> 128 -> 192 px
  2. pretrain-critic  the critic alone, a binary classifier: real colour photos vs the generator's output
  3. gan              192 px; the critic (higher learning rate: TTUR) trains until its loss is under a
                      threshold, then the generator takes one step on perceptual + weighted adversarial loss

Launch (a YAML recipe from train/configs, then any option below overrides it; after `pip install -e .`,
or with PYTHONPATH=. from the checkout):
  # CPU, one process
  python train/nogan.py --config train/configs/tiny-cpu.yaml --data.dataset ./photos
  # CPU, two processes over gloo (`accelerate launch --cpu --num_processes 2` starts only one)
  torchrun --nproc_per_node 2 train/nogan.py --cpu true --config train/configs/tiny-cpu.yaml --data.dataset ./photos
  # one GPU (bf16 where supported); ImageNet streamed from the Hub, token from HF_TOKEN
  accelerate launch train/nogan.py --config train/configs/imagenet-gpu.yaml --output_dir runs/imagenet
  # 8 GPUs on one machine
  accelerate launch --multi_gpu --num_processes 8 train/nogan.py --config train/configs/imagenet-gpu.yaml
  # 2 machines x 8 GPUs: run on each machine with its --machine_rank (0 and 1); the run folder on a shared disk
  accelerate launch --multi_gpu --num_machines 2 --num_processes 16 --machine_rank 0 \\
      --main_process_ip 10.0.0.1 --main_process_port 29500 train/nogan.py --config train/configs/imagenet-gpu.yaml
  # after a crash or a kill: the same command plus
  ... --resume latest
  # one option changed, and the whole resulting configuration shown instead of run
  python train/nogan.py --config train/configs/default-cpu.yaml --gan.lr_critic 2e-4 --print_config

The run folder (--output_dir) gets checkpoints/checkpoint-<step> (the last K), logs/ (TensorBoard:
`tensorboard --logdir <output_dir>/logs`), config.yaml, and one export per phase:
pretrain-g/generator, pretrain-critic-<cycle>/critic, gan-<cycle>/{generator,critic}, each loadable with
`from_pretrained` and described by its README.md (a generator's also shows held-out photos it colorized,
samples.png, with their scores: --card_photos). The network shapes (generator, critic sections) and the
old-photo damage (degrade section) are set in the YAML recipe only: docs/training-config.md lists every
field with its default.
"""

from __future__ import annotations

try:
    from train.config import parse_args
    from train.run import train
except ModuleNotFoundError as err:  # the project, or torch, accelerate, jsonargparse ... missing: one line, not a trace
    raise SystemExit(f"train/nogan.py needs the project and its training requirements ({err.name} is missing): "
                     "pip install -r requirements-train.txt && pip install -e .") from None


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv, description=__doc__))


if __name__ == "__main__":
    main()
