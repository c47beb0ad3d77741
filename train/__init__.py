"""NoGAN training: `train/nogan.py` is the entry point; the other modules are its parts."""
