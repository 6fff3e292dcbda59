"""From a video's sound to a transcript: ffmpeg, faster-whisper, the guards."""
