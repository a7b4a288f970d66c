"""Use cases of the studio API (`docs/api/studio.md`): one module per job.

access       who is calling and what they may manage
security     password hashing and JWT access tokens
users        log in, add a user, the user a token names
rag          a persona's rag settings: threshold ranges, the collections it may name
personas     owned personas, create and update a persona
histories    a user's message histories with a persona: list, open, title, save a turn
chat         one chat turn through the persona_chat graph
collections  document collections: create, list, delete
documents    documents in a collection: upload (extract, chunk, embed), list, delete

Every function takes what it needs (pool, settings, graph, the current user) as arguments and
refuses with `runtime.errors.ServiceError` / `NotFoundError`; the REST adapter in
`server/studio` turns those into HTTP answers.
"""
