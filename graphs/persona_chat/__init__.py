"""persona_chat: chat in character with a persona of any kind (graph in `graph.py`)."""
