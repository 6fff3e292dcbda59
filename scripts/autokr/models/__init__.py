"""Models: finding their files, the models folder, and ``model: auto``."""
