import threading

import pytest


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    """Playwright resolves relative URLs (page.goto("/join/")) against Django's live server.

    Defining it here also replaces pytest-playwright's fallback fixture, an instance method that pytest 9 deprecates
    (and `filterwarnings = error` turns into an error).
    """
    return live_server.url


@pytest.fixture(scope="session")
def _serialized_test_databases(django_db_setup) -> dict[str, str]:
    """What each test database held after migrations (roles, seeded tier schemes...), as Django serialized it."""
    from django.db import connections

    return {
        alias: connections[alias]._test_serialized_contents
        for alias in connections
        if hasattr(connections[alias], "_test_serialized_contents")
    }


@pytest.fixture(scope="session")
def playwright(_serialized_test_databases, playwright):
    """Keep `serialized_rollback` working once Playwright runs.

    Browser tests are transactional: after each one the database is flushed, and `serialized_rollback` reloads what the
    migrations put there. Django keeps that data on the connection object, which it holds thread-locally, except while
    an event loop runs in the thread, when it holds a separate, context-local connection. Playwright's sync API runs
    such a loop, so the connection the browser tests see is not the one that created the test database, and without
    this the reload silently does nothing (the second browser test after any other test finds no roles or tier
    schemes). The contents are read before Playwright starts (the argument order above) and handed to the connection
    in use once it runs.
    """
    from django.db import connections

    for alias, contents in _serialized_test_databases.items():
        connections[alias]._test_serialized_contents = contents
    return playwright


@pytest.fixture(autouse=True)
def _live_server_requests_finish():
    """After a test (and its browser context) ends, wait for the live server's request threads to finish.

    A request thread closes its database connection after the browser already has the response; one still running
    when the database is flushed, or when the live server stops at the end of the session, fails with "DatabaseWrapper
    objects created in a thread can only be used in that same thread" and the next test errors at random.
    """
    before = set(threading.enumerate())
    yield
    for thread in set(threading.enumerate()) - before:
        # Only this test's: a context a failed test left open keeps its keep-alive connections (and their threads)
        # until the session ends, and waiting on those made every later test 10 s per thread slower.
        if thread.name.endswith("(process_request_thread)"):
            thread.join(timeout=10)
