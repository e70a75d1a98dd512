"""The paper's instruction-awareness tasks (InBedder, ACL 2024), read from the Hub at pinned revisions.

Hub ids, revisions, configs and instruction strings are the paper code's (zhang-yu-wei/InBedder @3d95d4fa);
the robustness lists live in ``paper_instructions.json``. Without a hub, point ``$INBEDDER_MTEB_DATASETS``
at a local mirror (see ``hub.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

from mteb.abstasks.task_metadata import TaskMetadata

from mteb_tasks.abstask_clustering import AbsTaskInstructionClustering
from mteb_tasks.abstask_sts import AbsTaskInstructionSTS
from mteb_tasks.abstask_triplet import AbsTaskTriplet, TripletTaskMetadata

PAPER_VARIANTS: dict[str, dict[str, list[str]]] = json.loads(
    (Path(__file__).with_name("paper_instructions.json")).read_text(encoding="utf-8")
)

PAPER_CITATION = r"""@inproceedings{peng2024answer,
  title = {Answer is All You Need: Instruction-following Text Embedding via Answering the Question},
  author = {Peng, Letian and Zhang, Yuwei and Wang, Zilong and Srinivasa, Jayanth and Liu, Gaowen and Wang, Zihan and Shang, Jingbo},
  booktitle = {Proceedings of the 62nd Annual Meeting of the Association for Computational Linguistics (ACL)},
  year = {2024},
  eprint = {2402.09642},
  archivePrefix = {arXiv},
}"""

# Fields every paper task shares.
PAPER = dict(
    reference="https://arxiv.org/abs/2402.09642",
    eval_splits=["test"],
    modalities=["text"],
    license="not specified",
    bibtex_citation=PAPER_CITATION,
    contributed_by="inbedder-st (tasks of zhang-yu-wei/InBedder)",
)
ENGLISH = ["eng-Latn"]


class IntentEmotion(AbsTaskTriplet):
    metadata = TripletTaskMetadata(
        name="IntentEmotion",
        dataset={"path": "BrandonZYW/IntentEmotion", "revision": "d0101c15083166b77371cf542c4045decc0a6e92"},
        description="banking77 customer messages as triplets: the positive shares the asked aspect (emotion or "
        "intent) with the anchor and differs on the other; the negative the reverse.",
        type="Triplet",
        category="t2t",
        eval_langs={"emotion": ENGLISH, "intent": ENGLISH},
        main_score="success_rate",
        domains=["Financial", "Written"],
        annotations_creators="LM-generated",
        sample_creation="LM-generated and verified",
        **PAPER,
    )
    subset_instructions = {"emotion": "How does the customer feel?", "intent": "What does the customer need?"}


class InstructSTSBenchmark(AbsTaskInstructionSTS):
    metadata = TaskMetadata(
        name="InstructSTSBenchmark",
        dataset={"path": "BrandonZYW/InstructSTSB", "revision": "34dda81eca082ba6b3a259899fe9ae435b6ea1ae"},
        description="STS-B pairs re-scored under an instruction given per row; Spearman of cosine similarity.",
        type="STS",
        category="t2t",
        eval_langs=ENGLISH,
        main_score="cosine_spearman",
        annotations_creators="LM-generated",
        **PAPER,
    )
    min_score, max_score = 0, 1  # gold scores are already in [0, 1]


class NYTTopicClustering(AbsTaskInstructionClustering):
    metadata = TaskMetadata(
        name="NYTTopicClustering",
        dataset={
            "path": "BrandonZYW/NYTClustering",
            "revision": "462fb544c8993a0421fd969a7a0f19f1fbd975bf",
            "name": "topic",
        },
        description="New York Times articles clustered by topic (the same articles as NYTLocationClustering).",
        type="Clustering",
        category="t2c",
        eval_langs=ENGLISH,
        main_score="v_measure",
        prompt="What is the topic of news?",
        domains=["News", "Written"],
        task_subtypes=["Thematic clustering"],
        **PAPER,
    )
    instruction_variants = PAPER_VARIANTS["NYTTopicClustering"]


class NYTLocationClustering(AbsTaskInstructionClustering):
    metadata = TaskMetadata(
        name="NYTLocationClustering",
        dataset={
            "path": "BrandonZYW/NYTClustering",
            "revision": "462fb544c8993a0421fd969a7a0f19f1fbd975bf",
            "name": "location",
        },
        description="New York Times articles clustered by where the news happened.",
        type="Clustering",
        category="t2c",
        eval_langs=ENGLISH,
        main_score="v_measure",
        prompt="Where did the news happen?",
        domains=["News", "Written"],
        **PAPER,
    )


class RateMyProfClustering(AbsTaskInstructionClustering):
    metadata = TaskMetadata(
        name="RateMyProfClustering",
        dataset={"path": "BrandonZYW/RateMyProfClustering", "revision": "253b8501d191f7c3d3aff3bc27c6d7f7112589ba"},
        description="Student reviews clustered by the aspect discussed (4 balanced clusters).",
        type="Clustering",
        category="t2c",
        eval_langs=ENGLISH,
        main_score="v_measure",
        prompt="Here is a student review on the course and the professor. Categorize the aspect the student is discussing about.",
        domains=["Reviews", "Written"],
        **PAPER,
    )
    instruction_variants = PAPER_VARIANTS["RateMyProfClustering"]


class FeedbacksClustering(AbsTaskInstructionClustering):
    metadata = TaskMetadata(
        name="FeedbacksClustering",
        dataset={"path": "BrandonZYW/FeedbacksClustering", "revision": "365ef3e171ad4dab887b08495b10940a1aecb04b"},
        description="Human feedback on machine-generated text clustered by the reason for (dis)liking it (3 clusters).",
        type="Clustering",
        category="t2c",
        eval_langs=ENGLISH,
        main_score="v_measure",
        prompt="Here is a human feedback on machine-generated text. Categorize the type of reason why the human like or dislike it.",
        domains=["Written"],
        **PAPER,
    )
    instruction_variants = PAPER_VARIANTS["FeedbacksClustering"]


class FewRelClustering(AbsTaskInstructionClustering):
    metadata = TaskMetadata(
        name="FewRelClustering",
        dataset={"path": "BrandonZYW/FewRelClustering", "revision": "d951bf6cb10522c042bf8db3a837028b7e69388f"},
        description="FewRel sentences, with the entity pair appended, clustered by relation type.",
        type="Clustering",
        category="t2c",
        eval_langs=ENGLISH,
        main_score="v_measure",
        prompt="Here is a sentence. Please tell me the relation type between two specified entities appended after the sentence.",
        domains=["Encyclopaedic", "Written"],
        **PAPER,
    )
    instruction_variants = PAPER_VARIANTS["FewRelClustering"]


class FewNerdClustering(AbsTaskInstructionClustering):
    metadata = TaskMetadata(
        name="FewNerdClustering",
        dataset={"path": "BrandonZYW/FewNerdClustering", "revision": "9dff096e4ca4dd38688236fa1d4e4c17cb547e66"},
        description="Few-NERD sentences, with an entity appended, clustered by entity type.",
        type="Clustering",
        category="t2c",
        eval_langs=ENGLISH,
        main_score="v_measure",
        prompt="Here is a sentence. Please tell me the type of the specified entity appended after the sentence.",
        domains=["Encyclopaedic", "Written"],
        **PAPER,
    )
    instruction_variants = PAPER_VARIANTS["FewNerdClustering"]


class FewEventClustering(AbsTaskInstructionClustering):
    metadata = TaskMetadata(
        name="FewEventClustering",
        dataset={"path": "BrandonZYW/FewEventClustering", "revision": "aecc9c3ad7ae8d05b8621390d1919f1816eab777"},
        description="FewEvent sentences, with trigger words appended, clustered by event type.",
        type="Clustering",
        category="t2c",
        eval_langs=ENGLISH,
        main_score="v_measure",
        prompt="Here is a sentence. Please tell me the type of the specified event according to the trigger words appended after the sentence.",
        domains=["News", "Written"],
        **PAPER,
    )
    instruction_variants = PAPER_VARIANTS["FewEventClustering"]


PAPER_TASKS = (
    IntentEmotion,
    InstructSTSBenchmark,
    NYTTopicClustering,
    NYTLocationClustering,
    RateMyProfClustering,
    FeedbacksClustering,
    FewRelClustering,
    FewNerdClustering,
    FewEventClustering,
)
# The paper's aggregate instruction-awareness score reads these three.
INSTRUCTION_AWARENESS_TASKS = (IntentEmotion, NYTTopicClustering, NYTLocationClustering, InstructSTSBenchmark)
