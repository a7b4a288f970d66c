"""`.env.example` lists every setting, each with a one-line explanation."""

import re

from runtime.settings import Settings
from tests.support.paths import ROOT

ENV_EXAMPLE = ROOT / ".env.example"


def test_every_setting_is_listed_with_an_explanation():
    lines = ENV_EXAMPLE.read_text().splitlines()
    listed = {}
    for line in lines:
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=(.*)$", line)
        if match:
            listed[match.group(1)] = match.group(2)
    missing = [name.upper() for name in Settings.model_fields if name.upper() not in listed]
    assert missing == [], f".env.example lacks {missing}"
    unexplained = [name for name, rest in listed.items() if "#" not in rest]
    assert unexplained == [], f"no explanation for {unexplained}"
