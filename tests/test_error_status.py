"""The one exception tree says how an HTTP face answers each error: the gateway and the web app
read the status from the exception, not from a table of their own."""

import inspect

from tether import errors


def test_every_tether_error_knows_its_http_status_and_its_openai_error_type():
    tree = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.TetherError)]
    assert len(tree) > 15
    for cls in tree:
        assert isinstance(cls.http_status, int) and 400 <= cls.http_status <= 599, cls
        assert isinstance(cls.error_type, str) and cls.error_type, cls
    assert (errors.KeyLimit.http_status, errors.KeyLimit.error_type) == (429, "rate_limit_exceeded")  # a subclass says its own
    assert (errors.BadRequest.http_status, errors.TransientError.http_status) == (400, 502)  # the caller's fault, the upstream's
