"""The front door of trial streams: :func:`stream` picks the source (cogtask on device, neurogym on host)."""

from . import _cogtask, _cogtask_stream, _neurogym

__all__ = ['stream']


def stream(source, *, seed=0, held_out=512, **kwargs):
    """A :class:`Stream` of fresh trials: a registered cogtask name, a cogtask class, or a gym env.

    Parameters
    ----------
    source : str, type or gymnasium.Env
        A registry name of a ``braintools.cogtask`` task (``'go_no_go'``), a
        ``cogtask.Task`` subclass (then pass ``dt``): both give a *device*
        stream; or a neurogym environment, a *host* stream (keywords as
        :func:`datasets.from_neurogym`).
    seed : int, optional
        Root of every batch's key (default 0).
    held_out : int, optional
        Trials in the stream's fixed held-out set (default 512).
    **kwargs
        For cogtask: ``dt``, ``mask`` (``'response'`` or ``'valid'``),
        ``response_phases``, ``loss_weights`` (a float: the objective's weight
        of every valid step outside the response, whose steps weigh 1; default
        ``None``, the objective scores the mask), ``n_classes`` (the label
        space, where a task emits more labels than it declares) and task
        parameters, as :func:`datasets.from_cogtask`.

    Returns
    -------
    Stream

    Examples
    --------
    >>> import datasets
    >>> s = datasets.stream('perceptual_decision_making', seed=3, held_out=32, loss_weights=0.2)
    >>> b = s.batch(epoch=0, step=0, batch_size=4)
    >>> sorted(b), b['loss_weights'].max()
    (['inputs', 'loss_weights', 'mask', 'targets'], np.float32(1.0))
    """
    if isinstance(source, str):
        entry = _cogtask.registry_entry(source)
        if entry is None:
            raise ValueError(
                f'stream({source!r}): only the registry\'s braintools.cogtask tasks stream by name '
                f'({", ".join(_cogtask.registry_names())}); load other datasets with '
                f'datasets.load_dataset, or pass a cogtask class or a neurogym env.')
        task_cls, default_dt, response_phases = entry
        kwargs.setdefault('dt', default_dt)
        kwargs.setdefault('response_phases', response_phases)
        kwargs.setdefault('name', source)
        if source in _cogtask.LABEL_SPACES:
            kwargs.setdefault('n_classes', _cogtask.LABEL_SPACES[source])
        return _cogtask_stream.cogtask_stream(task_cls, seed=seed, held_out=held_out, **kwargs)
    if isinstance(source, type):
        return _cogtask_stream.cogtask_stream(source, seed=seed, held_out=held_out, **kwargs)
    if _neurogym.is_env(source):
        return _neurogym.neurogym_stream(source, seed=seed, held_out=held_out, **kwargs)
    raise TypeError(f'source must be a registry name, a braintools.cogtask.Task subclass or a neurogym env, '
                    f'got {type(source).__name__}: {source!r:.60}.')
