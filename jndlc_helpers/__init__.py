"""jndlc: JND-based perceptual learned image compression, reproduced."""
