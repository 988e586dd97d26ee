"""Captures use the beamline's active configuration from scidog's store, and survive its absence."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from scidog import ConfigStore
from scifish import ActiveConfig
from scizoo.core import BeamlineConfig
from scizoo.testing import EmbeddedMongo
from tests.helpers import wait_for

pytestmark = pytest.mark.system
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _config(description: str) -> BeamlineConfig:
    return BeamlineConfig.model_validate({"beamline": "sim", "name": "day", "description": description, "attributes": [
        {"name": "sample_x", "device": "sim/motor/x", "attribute": "position", "unit": "mm"}]})


def test_the_active_configuration_follows_the_store_and_outlives_it(tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="scifish._configsource")
    mongo = EmbeddedMongo(tmp_path / "store")
    mongo.start()
    store = ConfigStore(SecretStr(mongo.uri), "scicat")
    cache = tmp_path / "active.json"
    follower = ActiveConfig(mongo.uri, "scicat", "sim", cache, connect_timeout_s=1)
    try:
        store.create(_config("first"), "sam", NOW)
        follower.start()
        assert (follower.current().name, follower.current().revision) == ("day", 1)
        store.update("sim", "day", _config("second"), 1, "sam", NOW)
        wait_for(lambda: follower.current().revision == 2, timeout=10, what="the change to reach the capture")
        assert follower.current().description == "second"

        mongo.stop()
        time.sleep(5)  # several retries while it is away
        assert follower.current().revision == 2  # the last good copy
        said = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(said) == 1 and "day revision 2" in said[0]  # once, not at every retry

        restarted = ActiveConfig(mongo.uri, "scicat", "sim", cache, connect_timeout_s=1).start(wait_s=2)
        assert restarted.current().revision == 2  # a restart without the store: from disk
        restarted.close()

        mongo.start()  # same port, same files
        store.close()
        store = ConfigStore(SecretStr(mongo.uri), "scicat")
        store.update("sim", "day", _config("third"), 2, "sam", NOW)
        wait_for(lambda: follower.current().revision == 3, timeout=20, what="the change after the store returned")
    finally:
        follower.close()
        store.close()
        mongo.stop()
