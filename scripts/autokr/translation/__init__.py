"""Translation: the models behind one interface."""
