"""Runs README blocks for tests/test_readme.py: one forked process per block, after one import.

usage: readme_blocks.py   (then one JSON request per line on stdin)

A request is ``{"code": ..., "cwd": ..., "stdout": PATH, "stderr": PATH}``; the reply, one
JSON line on stdout, is ``{"returncode": N}``. This process imports ``trainer`` (which every
block imports first, and which brings in jax, brainstate, braintools, datasets and pyplot:
about 5 s) and nothing else, and never starts JAX's runtime (no threads that a fork could
catch holding a lock). Each block then runs in a child forked from it, as ``python -c``
would run it: its own ``__main__`` module with a fresh namespace, in its own folder, its
stdout and stderr to files, the exit handlers run at the end, exit status 1 on an exception.
A block sees nothing another block did: no names, no global state, no compiled programs.
"""

import atexit
import json
import os
import sys
import traceback
import types

import trainer  # noqa: F401  (the import every block starts with, done once)

REPLIES = os.fdopen(os.dup(1), 'w')
os.dup2(2, 1)  # a stray write to fd 1 never lands in the replies


def run_block(request):
    os.chdir(request['cwd'])
    for fd, path in ((1, request['stdout']), (2, request['stderr'])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(target, fd)
        os.close(target)
    sys.argv = ['-c']
    main = types.ModuleType('__main__')  # what `python -c` runs the code in
    main.__dict__['__builtins__'] = __builtins__
    sys.modules['__main__'] = main
    code = 0
    try:
        exec(compile(request['code'], '<string>', 'exec'), main.__dict__)
    except SystemExit as stop:  # as the interpreter reads sys.exit(arg)
        if stop.code is None or isinstance(stop.code, int):
            code = stop.code or 0
        else:
            print(stop.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    try:
        atexit._run_exitfuncs()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        try:
            run_block(request)
        except BaseException:  # only if run_block itself broke (it exits the child)
            traceback.print_exc()
            os._exit(70)
    _, status = os.waitpid(pid, 0)
    REPLIES.write(json.dumps({'returncode': os.waitstatus_to_exitcode(status)}) + '\n')
    REPLIES.flush()
