"""Watching the videos folder: file events, files settling, runs started for them."""
