"""Every ```python block of README.md runs on its own and prints what its comments say."""

import os
import re

import pytest

README = os.path.join(os.path.dirname(__file__), '..', 'README.md')


def python_blocks():
    text = open(README).read()
    return re.findall(r'^```python\n(.*?)^```', text, flags=re.S | re.M)


def first_line(block):
    return next(line for line in block.splitlines() if line and not line.startswith(('import', 'from')))


def promised(block):
    """``print(...)  # expected`` lines: the comment is what the print shows (``...`` is anything)."""
    patterns = []
    for comment in re.findall(r'^[ \t]*print\(.*\)[ \t]+# (.*)$', block, flags=re.M):
        patterns.append('.*'.join(re.escape(part) for part in comment.split('...')))
    return patterns


BLOCKS = python_blocks()


def test_ci_runs_the_readme_test_command_verbatim():
    text = open(README).read()
    command = re.search(r'^```bash\n(pip install -e "\.\[test\]".*)\n```', text, flags=re.M).group(1)
    ci = open(os.path.join(os.path.dirname(README), '.ci', 'run')).read().splitlines()
    assert command in ci


def test_the_readme_has_its_sections_blocks():
    assert len(BLOCKS) >= 5
    assert all('import' in block.split('\n', 1)[0] for block in BLOCKS)  # each starts with its imports


@pytest.mark.parametrize('block', BLOCKS, ids=[first_line(b)[:40] for b in BLOCKS])
def test_block_runs_standalone(block, tmp_path, fork_server):
    # As `python -c block` from an empty folder (forked from a process that has imported
    # the libraries: see conftest.ForkServer).
    (tmp_path / 'cwd').mkdir()
    [(returncode, stdout, stderr)] = fork_server.run([{'code': block, 'cwd': str(tmp_path / 'cwd')}],
                                                     tmp_path, timeout=300)
    assert returncode == 0, stderr[-3000:]
    lines = [line.strip() for line in stdout.splitlines()]
    for pattern in promised(block):
        assert any(re.fullmatch(pattern, line) for line in lines), (pattern, lines)
    # Files a block writes land in the folder it runs from, never in the source tree.
    assert all(not os.path.isabs(p) for p in re.findall(r"['\"]([\w./-]+\.(?:png|msgpack|csv))['\"]", block))
