"""Instruction-driven clustering, explained by the model's own answers (the paper's section 5 analysis)."""

from inbedder_st.explain.cluster import ClusterSummary, ExplainedClustering, cluster, kmeans
from inbedder_st.explain.keywords import Keyword
from inbedder_st.explain.plot import plot_clusters
from inbedder_st.explain.report import report_dict, report_markdown, write_reports
from inbedder_st.explain.scores import LabelScores, label_scores

__all__ = [
    "ClusterSummary",
    "ExplainedClustering",
    "Keyword",
    "LabelScores",
    "cluster",
    "kmeans",
    "label_scores",
    "plot_clusters",
    "report_dict",
    "report_markdown",
    "write_reports",
]
