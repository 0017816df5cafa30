"""A one-line epoch progress bar (hand-written: tqdm is not among our dependencies)."""

import sys
import time


class ProgressBar:
    """Redraw ``epoch k/n [====>   ] key=value ...`` in place on a stream.

    Examples
    --------
    >>> import io
    >>> stream = io.StringIO()
    >>> bar = ProgressBar(2, stream=stream)
    >>> bar.update(1, {'loss': 0.5})
    >>> bar.close()
    >>> 'epoch 1/2' in stream.getvalue()
    True
    """

    def __init__(self, total, *, width=20, stream=None, enabled=True):
        self.total, self.width, self.enabled = total, width, enabled
        self.stream = stream if stream is not None else sys.stderr
        self._start = time.perf_counter()

    def update(self, epoch, values):
        """Show ``epoch`` (1-based) with the given ``{name: number}`` values."""
        if not self.enabled:
            return
        done = int(self.width * epoch / self.total)
        bar = '=' * done + ('>' if done < self.width else '') + ' ' * (self.width - done - 1)
        shown = ' '.join(f'{k}={v:.4g}' for k, v in values.items() if v is not None)
        elapsed = time.perf_counter() - self._start
        self.stream.write(f'\repoch {epoch}/{self.total} [{bar}] {elapsed:.1f}s {shown}')
        self.stream.flush()

    def close(self):
        """End the line."""
        if self.enabled:
            self.stream.write('\n')
            self.stream.flush()
