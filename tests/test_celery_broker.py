"""One task through the real Redis broker to a worker this test starts."""

import gc
import os
import time

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.core import mail
from django.db import connections

from citizenpoints.celery import app
from citizenpoints.tasks import send_join_receipt
from tests.factories import ResidentFactory

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def redis_worker(settings):
    url = os.environ["REDIS_URL"]
    previous = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=url, task_always_eager=False)
    # A throwaway queue so a stray worker elsewhere cannot take the task.
    queue = f"test-{os.getpid()}"
    app.conf.task_default_queue = queue

    # The worker thread keeps its own DB connection (CELERY_DB_REUSE_MAX); close it so teardown can drop the DB.
    def close_worker_connections(**kwargs):
        connections.close_all()

    task_postrun.connect(close_worker_connections, weak=False)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, queues=[queue], shutdown_timeout=10):
            yield
    finally:
        task_postrun.disconnect(close_worker_connections)
        app.conf.update(previous, task_default_queue="celery")
        gc.unfreeze()  # the embedded solo worker's worker_process_init froze this process (citizenpoints/celery.py)


def test_a_task_travels_through_redis_to_a_worker(redis_worker):
    resident = ResidentFactory(language="en")
    result = send_join_receipt.apply_async(kwargs={"resident_id": resident.pk})
    assert result.id
    # No result backend: wait for the worker's side effect instead.
    deadline = time.monotonic() + 20
    while not mail.outbox and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [message.to for message in mail.outbox] == [[resident.user.email]]
