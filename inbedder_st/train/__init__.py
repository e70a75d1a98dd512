"""QA data readers and answer-only fine-tuning (the paper's recipe, reference section 4)."""
