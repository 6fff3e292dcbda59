"""What a run tells at its end: the summary, its figures, the report's page and plots."""
