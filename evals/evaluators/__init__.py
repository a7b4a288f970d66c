"""Evaluators: each scores one example's output and returns metric values.

Offline and deterministic: `retrieval` (ranking metrics), `style` (stylometric
similarity), `persona_facts` (persona-fact consistency), `injection` (canary
checks). `judge` asks an LLM and runs only when a judge model is configured.
"""
