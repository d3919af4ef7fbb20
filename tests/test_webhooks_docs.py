"""docs/webhooks.md: the receiver's verification recipe works on what the consumer really sends."""

import re
import time
from pathlib import Path

import pytest

from durable import claim
from webhooks import signing
from webhooks.models import Endpoint

DOC = Path(__file__).resolve().parent.parent / "docs" / "webhooks.md"


@pytest.fixture
def verify():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    namespace = {}
    exec(blocks[0], namespace)  # noqa: S102 - our own documentation
    return namespace["verify"]


@pytest.mark.django_db
def test_the_documented_recipe_verifies_a_real_delivery_and_refuses_tampering(verify, receiver):
    ep = Endpoint.objects.create(name="r", url=receiver.url(), events=["report.ready"])
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    exec(blocks[1], {})  # noqa: S102 - the "raise an event" example, as written
    claim.run_due()
    [got] = receiver.received

    assert verify(ep.secret, got.headers, got.body)
    assert not verify(ep.secret, got.headers, got.body.replace(b"42", b"43"))  # body changed
    assert not verify(signing.new_secret(), got.headers, got.body)  # another secret
    old = {**got.headers, "webhook-timestamp": str(int(time.time()) - 600)}
    assert not verify(ep.secret, old, got.body)  # a replay, 10 minutes later
    assert b'"data":{"report_id":42}' in got.body
