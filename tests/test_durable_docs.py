"""docs/tasks.md: its examples run as written."""

import re
import sys
import types
from pathlib import Path

import pytest

from durable.compat import TaskResultStatus

DOC = Path(__file__).resolve().parent.parent / "docs" / "tasks.md"


@pytest.fixture
def example_module():
    """The first example of docs/tasks.md as an importable module (the consumer imports tasks by name)."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    module = types.ModuleType("tests.docs_tasks_example")
    sys.modules[module.__name__] = module
    exec(blocks[0], module.__dict__)  # noqa: S102 - our own documentation
    yield module, blocks
    del sys.modules[module.__name__]


@pytest.mark.django_db
def test_the_write_your_own_task_example_runs(example_module, run_tasks):
    module, blocks = example_module
    namespace = {"count_words": module.count_words}
    exec(blocks[1], namespace)  # noqa: S102 - enqueue, then get_result
    assert namespace["result"].status == TaskResultStatus.READY

    assert run_tasks() == 1

    result = module.count_words.get_result(namespace["result"].id)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == {"words": 4, "attempt": 1}


@pytest.mark.django_db
def test_the_invalid_task_example_refuses_the_call_and_writes_nothing(example_module, capsys):
    from durable.models import Task

    module, blocks = example_module
    exec(blocks[2], {"count_words": module.count_words})  # noqa: S102 - catch durable.InvalidTask

    printed = capsys.readouterr().out.strip()
    documented = re.search(r"print\(exc\)  # myapp\.tasks\.(.*)", blocks[2]).group(1)
    assert printed == f"tests.docs_tasks_example.{documented}"
    assert not Task.objects.exists()
