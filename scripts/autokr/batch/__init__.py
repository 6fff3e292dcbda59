"""The batch: finding videos, progress, the lock, the summary and report, watching."""
