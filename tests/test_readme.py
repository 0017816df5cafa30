"""Every ```python block of README.md runs on its own and prints what its comments say."""

import json
import os
import re
import select
import signal
import subprocess
import sys

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


SERVER = os.path.join(os.path.dirname(__file__), 'scripts', 'readme_blocks.py')


class BlockRunner:
    """Runs a block as ``python -c`` would, in a child forked from one process (per xdist
    worker) that has already imported ``trainer``: each block skips those ~5 s of imports and
    still starts from a fresh interpreter's state (see tests/scripts/readme_blocks.py)."""

    def __init__(self, env, log):
        self.env, self.log, self.server = env, log, None

    def start(self):
        self.server = subprocess.Popen([sys.executable, SERVER], env=self.env, text=True,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=open(self.log, 'a'), start_new_session=True)

    def stop(self):
        if self.server is not None:
            os.killpg(self.server.pid, signal.SIGKILL)  # the server and a block still running
            self.server.wait()
            self.server = None

    def run(self, block, cwd, timeout):
        """``(returncode, stdout, stderr)`` of the block run in the empty folder ``cwd``."""
        if self.server is None or self.server.poll() is not None:
            self.start()
        out, err = str(cwd.parent / 'block.stdout'), str(cwd.parent / 'block.stderr')
        self.server.stdin.write(json.dumps({'code': block, 'cwd': str(cwd), 'stdout': out, 'stderr': err}) + '\n')
        self.server.stdin.flush()
        ready, _, _ = select.select([self.server.stdout], [], [], timeout)
        reply = self.server.stdout.readline() if ready else ''
        if not reply:  # timed out, or the server died: the next block gets a new one
            self.stop()
            raise AssertionError(f'block gave no exit status within {timeout} s; server log:\n'
                                 + open(self.log).read()[-3000:])
        return json.loads(reply)['returncode'], open(out).read(), open(err).read()


@pytest.fixture(scope='session')
def block_runner(tmp_path_factory):
    # One JAX compilation cache shared by the blocks and the test session (see conftest): a
    # program compiled alike twice is compiled once.
    cache = os.environ.get('TRAINER_TEST_JAX_CACHE') or str(tmp_path_factory.mktemp('jax-cache'))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
               MPLBACKEND='Agg', JAX_PLATFORMS='cpu', JAX_COMPILATION_CACHE_DIR=cache,
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS='0',
               JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES='0')
    runner = BlockRunner(env, str(tmp_path_factory.mktemp('readme') / 'server.log'))
    yield runner
    runner.stop()


@pytest.mark.parametrize('block', BLOCKS, ids=[first_line(b)[:40] for b in BLOCKS])
def test_block_runs_standalone(block, tmp_path, block_runner):
    (tmp_path / 'cwd').mkdir()
    returncode, stdout, stderr = block_runner.run(block, tmp_path / 'cwd', timeout=300)
    assert returncode == 0, stderr[-3000:]
    lines = [line.strip() for line in stdout.splitlines()]
    for pattern in promised(block):
        assert any(re.fullmatch(pattern, line) for line in lines), (pattern, lines)
    # Files a block writes land in the folder it runs from, never in the source tree.
    assert all(not os.path.isabs(p) for p in re.findall(r"['\"]([\w./-]+\.(?:png|msgpack|csv))['\"]", block))
