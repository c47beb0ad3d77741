"""NoGAN training: `train/nogan.py` is the entry point; the other modules are its parts (the data
stream, the losses and the critic live here, not in `colorizer/`: a Space never installs them)."""
