"""Video fixtures: a fake Daily server on a real port and settings pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from tests.video.fake_daily import FakeDaily
from video.config import VideoSettings, get_video_settings


@pytest.fixture
async def fake_daily() -> AsyncIterator[FakeDaily]:
    fake = FakeDaily()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def daily_settings(fake_daily: FakeDaily) -> VideoSettings:
    return replace(
        get_video_settings(),
        default_provider="daily",
        daily_api_key=fake_daily.api_key,
        daily_api_url=fake_daily.url,
        # Pacing off here: the tests meet the fake's limits on purpose.
        daily_rate_per_second=0,
        daily_delete_rate_per_second=0,
    )
