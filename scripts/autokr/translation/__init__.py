"""Translation: NLLB behind one interface, its CTranslate2 conversion, checks on its output."""
