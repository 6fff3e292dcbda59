"""Text and its layout: sentences, cues, subtitle files read and written."""
