"""amphora-export: Amphion vocoder checkpoints to deployable model packages."""

__version__ = "0.1.0"
