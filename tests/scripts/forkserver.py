"""Starts test processes by forking one process that has already imported their dependencies.

usage: forkserver.py   (then one JSON request per line on stdin)

A request is a list of jobs, run at the same time; the reply, one JSON line on stdout, is
their exit statuses in order, ``{"returncodes": [...]}`` (negative: killed by that signal).
A job is ``{"cwd", "stdout", "stderr"}`` (paths) and one of

- ``"code"``: run as ``python -c CODE`` would;
- ``"path"`` (with ``"argv"``): run as ``python PATH ARGV...`` would;
- ``"module"`` (with ``"argv"``): run as ``python -m MODULE ARGV...`` would;

with ``"env"``, variables set before it runs (read when JAX starts its runtime, as
``XLA_FLAGS`` is, or later; not those read at import).

This process imports the libraries ``trainer`` and ``datasets`` import (jax, brainstate,
braintools, optax, grain, pyplot: about 4 s of a test process's start), none of this
project's modules (a job imports those itself, in the order it does, in ~0.2 s), and never
starts JAX's runtime, so no thread of it can be caught by a fork holding a lock (a job
starts its own, reading ``XLA_FLAGS`` then). Each job is a child forked from it:
its own ``__main__`` module with a fresh namespace, its own folder, stdout and stderr to
its files, the exit handlers run at the end, exit status 1 on an uncaught exception. A job
sees nothing another job did: no names, no global state, no compiled programs in memory.
"""

import atexit
import json
import os
import runpy
import sys
import traceback
import types

import brainstate  # noqa: F401
import braintools  # noqa: F401
import brainunit  # noqa: F401
import grain  # noqa: F401
import jax.numpy  # noqa: F401
import matplotlib.pyplot  # noqa: F401
import optax  # noqa: F401

REPLIES = os.fdopen(os.dup(1), 'w')
os.dup2(2, 1)  # a stray write to fd 1 never lands in the replies


def run(job):
    os.chdir(job['cwd'])
    for fd, path in ((1, job['stdout']), (2, job['stderr'])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(target, fd)
        os.close(target)
    os.environ.update(job.get('env', {}))
    code = 0
    try:
        if 'code' in job:
            sys.argv, sys.path[0] = ['-c'], ''
            main = types.ModuleType('__main__')  # what `python -c` runs the code in
            main.__dict__['__builtins__'] = __builtins__
            sys.modules['__main__'] = main
            exec(compile(job['code'], '<string>', 'exec'), main.__dict__)
        elif 'path' in job:
            sys.argv = [job['path'], *job.get('argv', [])]
            sys.path[0] = os.path.dirname(os.path.abspath(job['path']))
            runpy.run_path(job['path'], run_name='__main__')
        else:
            sys.argv, sys.path[0] = [job['module'], *job.get('argv', [])], os.getcwd()
            runpy.run_module(job['module'], run_name='__main__', alter_sys=True)
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


def start(job):
    pid = os.fork()
    if pid == 0:
        try:
            run(job)
        except BaseException:  # only if run itself broke (it exits the child)
            traceback.print_exc()
            os._exit(70)
    return pid


for line in sys.stdin:
    pids = [start(job) for job in json.loads(line)]
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    REPLIES.write(json.dumps({'returncodes': codes}) + '\n')
    REPLIES.flush()
