"""ghostwriter_chat: persona_chat's nodes in a shorter graph for the ghostwriter API (`graph.py`)."""
