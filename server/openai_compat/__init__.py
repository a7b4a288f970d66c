"""The OpenAI-compatible mount (`/v1`): chat UIs (SillyTavern, Open WebUI, LibreChat) and OpenAI
clients talk to every persona as a model. See docs/openai-compatible.md.

api      the routes: GET /models, GET /models/{model}, POST /chat/completions
auth     the bearer token: a studio access token, the ghostwriter or the twin API key
schemas  OpenAI's request and response bodies, as far as a persona honours them
sse      a streamed completion in OpenAI's chunk framing
errors   every failure in OpenAI's error shape, inside this mount only
"""
