"""MTEB task definitions for InBedder: the paper's instruction-awareness and robustness tests, a triplet
task type, factories for users' own tables, and the dev suite over ../shared/data (mteb_tasks/dev_tasks.py).

    import mteb, inbedder_st, mteb_tasks
    model = mteb_tasks.InstructionEncoder(inbedder_st.load_model())   # the instruction becomes the prompt
    results = mteb.evaluate(model, mteb_tasks.get_tasks(["dev"]), cache=None)
"""

from mteb_tasks.abstask_clustering import AbsTaskInstructionClustering
from mteb_tasks.abstask_sts import AbsTaskInstructionSTS
from mteb_tasks.abstask_triplet import AbsTaskTriplet, TripletTaskMetadata
from mteb_tasks.aggregate import harmonic_mean, instruction_awareness, read_results, summary_rows, write_results_table
from mteb_tasks.dev_tasks import DEV_TASKS, dev_tasks
from mteb_tasks.encoder import INSTRUCTION_MODES, InstructionEncoder, instruction_aware
from mteb_tasks.factories import Aspect, dual_aspect_triplet_task, instruction_clustering_task, instruction_sts_task
from mteb_tasks.hub import LOCAL_DATASETS_ENV, use_local_datasets
from mteb_tasks.instructed import InstructedTask
from mteb_tasks.model_meta import default_model_meta, minilm_model_meta, zero_shot_model_meta
from mteb_tasks.paper_tasks import (
    PAPER_TASKS,
    FeedbacksClustering,
    FewEventClustering,
    FewNerdClustering,
    FewRelClustering,
    InstructSTSBenchmark,
    IntentEmotion,
    NYTLocationClustering,
    NYTTopicClustering,
    RateMyProfClustering,
)
from mteb_tasks.robustness import robustness_scores, robustness_tasks
from mteb_tasks.suites import SUITES, get_tasks

__all__ = [
    "DEV_TASKS",
    "INSTRUCTION_MODES",
    "LOCAL_DATASETS_ENV",
    "PAPER_TASKS",
    "SUITES",
    "AbsTaskInstructionClustering",
    "AbsTaskInstructionSTS",
    "AbsTaskTriplet",
    "Aspect",
    "FeedbacksClustering",
    "FewEventClustering",
    "FewNerdClustering",
    "FewRelClustering",
    "InstructSTSBenchmark",
    "InstructedTask",
    "InstructionEncoder",
    "IntentEmotion",
    "NYTLocationClustering",
    "NYTTopicClustering",
    "RateMyProfClustering",
    "TripletTaskMetadata",
    "default_model_meta",
    "dev_tasks",
    "dual_aspect_triplet_task",
    "get_tasks",
    "harmonic_mean",
    "instruction_aware",
    "instruction_awareness",
    "instruction_clustering_task",
    "instruction_sts_task",
    "minilm_model_meta",
    "read_results",
    "robustness_scores",
    "robustness_tasks",
    "summary_rows",
    "use_local_datasets",
    "write_results_table",
    "zero_shot_model_meta",
]
