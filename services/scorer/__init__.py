"""The scorer: Ragas metrics of completed runs, reported as ``ScoresRecorded`` events."""
