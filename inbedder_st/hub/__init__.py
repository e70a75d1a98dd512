"""Publish InBedders on the Hugging Face Hub: ``export`` a loadable folder with its model card, ``push`` it.

from inbedder_st import hub
hub.export(model, "out/my-inbedder", license="apache-2.0", results="eval/")   # folder + README.md
hub.push(model, "my-org/my-inbedder")                                           # needs a write token
"""

from inbedder_st.hub.card import CardFields
from inbedder_st.hub.default_card import default_card_fields
from inbedder_st.hub.exporting import Exported, export
from inbedder_st.hub.pushing import PushError, Pushed, push

__all__ = ["CardFields", "Exported", "PushError", "Pushed", "default_card_fields", "export", "push"]
