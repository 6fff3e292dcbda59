"""autokr: videos in one language -> subtitles in another (the workflow's shared code)."""
