"""scizoo uses kafka-python 3.x as 3.x means it: nothing it deprecates, and its deprecations are not hidden."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGES = ["scizoo", "scifish", "scicow", "scifly", "scanlog_api", "scidog", "scireduce"]

#: What kafka-python 3.0 deprecates without warning at run time (documented only), so only
#: reading the code finds a use: the admin's NewTopic and NewPartitions objects (3.0 takes
#: mappings), and the coordinator's generation() (renamed generation_if_stable()).
DEPRECATED_NAMES = {"NewTopic", "NewPartitions"}
DEPRECATED_ATTRIBUTES = {"generation"}


def _uses(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kafka"):
            found += [f"{path}:{node.lineno} imports {a.name}" for a in node.names if a.name in DEPRECATED_NAMES]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in DEPRECATED_ATTRIBUTES and not node.args and not node.keywords):
            found.append(f"{path}:{node.lineno} calls .{node.func.attr}()")
    return found


def test_no_package_uses_what_kafka_python_3_deprecates() -> None:
    uses = [u for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py")) for u in _uses(path)]
    assert uses == []


@pytest.mark.parametrize(("message", "module"), [
    # What our calls can cause, raised from kafka's own modules (no stacklevel to point at us).
    ("serializer does not implement serialize(topic, headers, data)", "kafka.producer.kafka"),
    ("deserializer does not implement deserialize(topic, headers, data)", "kafka.consumer.fetcher"),
    ("Deprecated Producer config: x", "kafka.producer.kafka"),
])
def test_a_kafka_deprecation_our_call_causes_fails_the_tests(message: str, module: str) -> None:
    """pyproject's filterwarnings ignores only what kafka raises about itself, so this is an error."""
    with pytest.raises(DeprecationWarning, match=r"serialize|Deprecated"):
        warnings.warn_explicit(message, DeprecationWarning, f"{module.replace('.', '/')}.py", 1, module=module)


def test_what_kafka_raises_about_itself_is_ignored() -> None:
    """kafka-python's protocol schemas are read with importlib.resources' legacy API: nothing of ours."""
    warnings.warn_explicit("read_text is deprecated. Use files() instead.", DeprecationWarning,
                           "kafka/protocol/schemas/load_json.py", 14, module="kafka.protocol.schemas.load_json")
