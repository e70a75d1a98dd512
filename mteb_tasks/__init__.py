"""MTEB task definitions for InBedder (instruction-awareness and robustness tests); see issue 3."""
