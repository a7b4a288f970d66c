"""One API replica for tests/server/test_replicas.py, in a process of its own: the service on the
DATABASE_URL it is given (settings from the environment), the scripted fake model answering
as `fake:scripted` (each call waits FAKE_MODEL_DELAY seconds, so a batch job takes a while).

    python -m tests.support.replica_server PORT
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

import uvicorn

from runtime.services import Services
from runtime.settings import Settings
from tests.support.fakes import Script, install_fake_provider
from tests.support.ghostwriter import builder_responder


def _responder(messages):
    time.sleep(float(os.environ.get("FAKE_MODEL_DELAY", "0")))
    return builder_responder(messages)


async def main(port: int) -> None:
    from server.app import create_app

    install_fake_provider(Script(responder=_responder))
    settings = Settings(_env_file=None)
    services = Services.create(settings)
    app = create_app(settings, services=services, start_model=False, start_embeddings=False)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
