"""The progress display fits the terminal, and writes plain lines (no ``\\r``) to a pipe or a log."""

import fcntl
import io
import os
import pty
import re
import struct
import termios

import pytest

from trainer.loop.progress import ProgressBar

LONG = {'loss': 0.123456789, 'acc': 0.87654321, 'held_out_loss': 0.23456789,
        'held_out_acc': 0.7654321, 'held_out_some_long_metric_name': 1.5e-7}


def test_plain_text_on_a_pipe_wraps_between_values(monkeypatch):
    monkeypatch.setenv('COLUMNS', '80')
    stream = io.StringIO()
    bar = ProgressBar(3, stream=stream)
    for epoch in (1, 2, 3):
        bar.update(epoch, dict(LONG, held_out_loss=None if epoch == 2 else 0.25))
    bar.close()
    text = stream.getvalue()
    assert '\r' not in text
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), [len(line) for line in lines]
    epochs = [i for i, line in enumerate(lines) if line.startswith('epoch ')]
    assert [lines[i].split()[1] for i in epochs] == ['1/3', '2/3', '3/3']
    assert all(line.startswith('    ') for i, line in enumerate(lines) if i not in epochs)
    first = ' '.join(lines[:epochs[1]]).split()
    assert first[3:] == ['loss=0.1235', 'acc=0.8765', 'held_out_loss=0.25', 'held_out_acc=0.7654',
                         'held_out_some_long_metric_name=1.5e-07']  # every value, none cut
    assert 'held_out_loss' not in ' '.join(lines[epochs[1]:epochs[2]])  # not evaluated: omitted


def test_a_short_line_is_one_line(monkeypatch):
    monkeypatch.setenv('COLUMNS', '80')
    stream = io.StringIO()
    ProgressBar(5, stream=stream).update(2, {'loss': 0.5, 'acc': 0.75})
    assert re.fullmatch(r'epoch 2/5 \[\d+\.\ds\] loss=0\.5 acc=0\.75\n', stream.getvalue())


def test_disabled_writes_nothing():
    stream = io.StringIO()
    bar = ProgressBar(2, enabled=False, stream=stream)
    bar.update(1, {'loss': 0.5})
    bar.close()
    assert stream.getvalue() == ''


@pytest.mark.parametrize('columns', [40, 80])
def test_terminal_bar_fits_the_width(columns):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 24, columns, 0, 0))
    with os.fdopen(slave, 'w') as tty:
        bar = ProgressBar(4, stream=tty)
        assert bar._bar is not None  # a terminal gets the tqdm bar
        for epoch in (1, 3, 4):  # a jump (as on resume) still ends at 4/4
            bar.update(epoch, LONG)
        bar.close()
        bar.close()
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the slave end is closed: everything was read
            break
        if not data:
            break
        chunks.append(data.decode())
    os.close(master)
    text = re.sub(r'\x1b\[[0-9;]*[A-Za-z]', '', ''.join(chunks))
    drawn = [part for part in re.split(r'[\r\n]+', text) if part.strip()]
    assert drawn and '4/4' in drawn[-1]
    assert max(len(part) for part in drawn) <= columns
