"""Subtitles where players find them, and taking them back."""
