"""The epoch progress display: ``tqdm.auto`` where someone watches, plain lines where a log reads.

``tqdm.auto`` gives a bar that fits the terminal's width and a widget in
Jupyter. Redrawn with ``\\r``, a bar would litter a piped log, so when the
stream is not a terminal (and not a notebook) each epoch is written once, as
plain text wrapped to the terminal width (80 columns when unknown).
"""

import shutil
import sys
import textwrap
import time

import tqdm.auto

__all__ = ['ProgressBar']


def _in_notebook():
    # tqdm.auto resolves to the notebook widget only inside a Jupyter kernel with ipywidgets.
    return any(cls.__module__ == 'tqdm.notebook' for cls in tqdm.auto.tqdm.__mro__)


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or file-like stream without isatty
        return False


def _shown(values):
    return ' '.join(f'{k}={v:.4g}' if isinstance(v, float) else f'{k}={v}'
                    for k, v in values.items() if v is not None)


class ProgressBar:
    """Show training progress, one update per epoch.

    In a terminal or a notebook this is a ``tqdm.auto`` bar with the latest
    values as its postfix; on any other stream (a pipe, a log file, a
    ``StringIO``) each ``update`` writes the epoch and its values once,
    wrapped to the terminal width (80 columns when unknown).

    Parameters
    ----------
    total : int
        The last epoch (a resumed run starts part-way).
    enabled : bool, optional
        ``False`` shows nothing (default ``True``).
    stream : file-like, optional
        Where to write (default ``sys.stderr``).

    Examples
    --------
    >>> import io
    >>> stream = io.StringIO()
    >>> bar = ProgressBar(2, stream=stream)
    >>> bar.update(1, {'loss': 0.5, 'held_out_loss': None})
    >>> bar.close()
    >>> line = stream.getvalue().split()
    >>> line[:2], line[3:]
    (['epoch', '1/2'], ['loss=0.5'])
    """

    def __init__(self, total, *, enabled=True, stream=None):
        self.total, self.enabled = total, enabled
        self.stream = stream if stream is not None else sys.stderr
        self._start = time.perf_counter()
        self._bar = None
        if enabled and (_in_notebook() or _isatty(self.stream)):
            self._bar = tqdm.auto.tqdm(total=total, unit='epoch', file=self.stream,
                                       dynamic_ncols=True, leave=True)

    def update(self, epoch, values):
        """Show ``epoch`` (1-based, of ``total``) with the given ``{name: number}`` values."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(_shown(values), refresh=False)
            self._bar.update(epoch - self._bar.n)  # a resumed run jumps to its first epoch
            return
        elapsed = time.perf_counter() - self._start
        text = f'epoch {epoch}/{self.total} [{elapsed:.1f}s] {_shown(values)}'
        # Wrapped between values, never inside one: a log keeps every number.
        lines = textwrap.fill(text, shutil.get_terminal_size().columns, subsequent_indent='    ',
                              break_long_words=False, break_on_hyphens=False)
        self.stream.write(lines + '\n')
        self.stream.flush()

    def close(self):
        """Finish the bar (plain lines need no ending); safe to call twice."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
