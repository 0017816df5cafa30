"""grain's side of :func:`datasets.batch_indices`: one epoch's batches as a ``grain.MapDataset``.

Its own module so that ``import datasets`` does not load grain (and orbax):
:func:`datasets.epoch_indices` and the arrays need neither.
"""

import numbers

import grain

class EpochBatches(grain.MapDataset):
    """Record ``k``: the trial indices of batch ``k``, a read-only int32 slice of the order."""

    def __init__(self, order, batch_size, n_batches):
        super().__init__()
        self._order = order
        self._batch_size = batch_size
        self._n_batches = n_batches

    def __len__(self):
        return self._n_batches

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.slice(index)
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f'a batch index must be an int, got {type(index).__name__}: {index!r}.')
        if not -self._n_batches <= index < self._n_batches:
            raise IndexError(f'batch {index} is out of range for {self._n_batches} batches.')
        start = (index % self._n_batches) * self._batch_size
        return self._order[start:start + self._batch_size]

    def __str__(self):
        return f'EpochBatches(n_batches={self._n_batches}, batch_size={self._batch_size})'

    def __iter__(self):
        # grain's default iterator runs a 16-thread prefetch pool (~25 us a batch); ours is a cursor.
        return EpochBatchIterator(self)

    def to_iter_dataset(self, read_options=None, *, allow_nones=False):
        # Index slices of an in-memory array need no reader threads (as grain's own range source).
        read_options = read_options or grain.ReadOptions(num_threads=0, prefetch_buffer_size=0)
        return super().to_iter_dataset(read_options, allow_nones=allow_nones)


class EpochBatchIterator(grain.DatasetIterator):
    """A checkpointable cursor over one epoch's batches: its state is the next step."""

    def __init__(self, records):
        super().__init__()
        self._records = records
        self._next = 0

    def __next__(self):
        if self._next >= len(self._records):
            raise StopIteration
        self._next += 1
        return self._records[self._next - 1]

    def get_state(self):
        return {'next_index': self._next}

    def set_state(self, state):
        self._next = int(state['next_index'])
