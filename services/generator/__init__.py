"""The generator: synthetic test cases from documents (``GenerationRequested`` in,
``GenerationStarted`` / ``CasesGenerated`` / ``GenerationCompleted`` or
``GenerationFailed`` out)."""
