"""A private queue on the local Redis per test, emptied afterwards."""

from __future__ import annotations

import pytest
from rq import Queue

from maillage.jobs.queue import JobSettings, job_queue


@pytest.fixture
def queue(job_settings: JobSettings) -> Queue:
    return job_queue(job_settings)
