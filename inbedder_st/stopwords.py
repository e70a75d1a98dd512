"""NLTK's English stopword list and the token-id sets the paper filters from generated answers."""

from __future__ import annotations

import functools
import logging

logger = logging.getLogger(__name__)

# The paper's task configs also filter these answer openers (reference section 2).
ANSWER_OPENERS = ("Based on ", "Sure! ")


@functools.lru_cache(maxsize=1)
def english_stopwords() -> tuple[str, ...]:
    """The 179-word NLTK English list; downloads it once if missing, else raises a clear error."""
    import nltk
    from nltk.corpus import stopwords

    try:
        return tuple(stopwords.words("english"))
    except LookupError:
        logger.info("NLTK stopwords not found locally; trying nltk.download('stopwords').")
        try:
            downloaded = nltk.download("stopwords", quiet=True, raise_on_error=True)
        except (OSError, ValueError) as error:  # urllib's network errors are OSErrors; nltk's own are ValueErrors
            logger.warning("Downloading NLTK's stopwords failed: %s: %s", type(error).__name__, error)
            downloaded = False
        if downloaded:
            try:
                return tuple(stopwords.words("english"))
            except LookupError:
                pass
        raise RuntimeError(
            "NLTK's English stopword list is missing and could not be downloaded. Either run "
            "`python -m nltk.downloader stopwords` with network access, or set NLTK_DATA to a folder "
            "that contains corpora/stopwords.zip."
        ) from None


def filter_token_ids(tokenizer, words) -> set[int]:
    """Token ids to filter: every token of every word, bare and space-prefixed, plus special tokens.

    Context-free, like the paper's code (a multi-token word filters all of its pieces). The space-prefixed
    form is added because BPE tokenizers spell a word differently mid-sentence; the paper's code only
    caught the bare form.
    """
    ids: set[int] = set(tokenizer.all_special_ids)
    for word in words:
        for form in {word, " " + word.lstrip()}:
            ids.update(tokenizer(form, add_special_tokens=False)["input_ids"])
    return ids
