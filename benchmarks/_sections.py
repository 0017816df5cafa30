"""The detail section of each workload in BENCHMARKS.md, and what a miss's measurements say."""

from _format import fmt_range, num, table

def horn_section(w):
    v = w['variants']
    labels = {'a_tutorial': '(a) tutorial loop', 'b_trainer_step': '(b) Trainer, per step',
              'c_trainer_epoch': '(c) Trainer, compiled epoch', 'd_lean_loop': '(d) lean hand-written loop'}
    rows = []
    for key, label in labels.items():
        if key not in v:  # results from before variant (d) existed
            continue
        x = v[key]
        rows.append((label, num(x['time_to_first_epoch_s'], 2), num(x['steady_ms_per_epoch'], 1),
                     num(x['total_s'], 2), num(x['compilations'], 0), _step_compiles(x['step_compilations']),
                     num(x['traces_per_epoch_after_epoch_2'], 1), num(x['final_held_out_acc'], 3)))
    ratios = [(k.replace('_', ' '), fmt_range(r)) for k, r in w['ratios'].items()]
    a = v['a_tutorial']
    return '\n\n'.join([
        f'{w["n_epochs"]} epochs, {w["n_rounds"]} round(s), order rotated each round. Seconds and '
        'milliseconds are medians [min-max] over rounds; compilations are every XLA compilation in the '
        'process during the run (op-by-op initialisers included; the first round also pays one-off '
        'process-wide ones).',
        table(('Variant', 'time to first epoch (s)', 'steady ms/epoch (epochs 3-19)',
               f'total {w["n_epochs"]} epochs (s)', 'compilations', 'step/eval compilations',
               're-traces per epoch after epoch 2', 'final held-out acc'), rows),
        table(('Ratio (per round, then median [min-max])', 'value'), ratios),
        'Why (a) is slow after it has compiled: its `evaluate` runs the 64 held-out trials as one batch, '
        'which leaves HORN\'s hidden states at batch 64; the next `train_step` sees batch-64 states, '
        'which makes `brainstate.transform.jit` judge its cached trace stale and trace the whole '
        'backward pass again in Python, and again when the states return to batch 32: '
        f'{a["traces_per_epoch_after_epoch_2"]["median"]:.0f} re-traces per epoch, '
        f'{a["trace_s"]["median"]:.1f} s of tracing per run. XLA does not recompile (the traced '
        'programs repeat), so the compile count hides it. Its two jitted functions compile '
        f'{_step_compiles(a["step_compilations"])} times in all: `train_step` at each of its first three '
        'calls (the unbatched initial states, then the batch-32 states, then the optimizer state '
        'turning from weak- to strong-typed) and once more on the batch-64 states the first '
        '`evaluate` leaves behind, and `evaluate` once. The Trainer writes a fixed batch-shaped state '
        'template inside the step, canonicalises the weights and the optimizer state before the first '
        'call, and pads the held-out batches to the training shape, so each of its programs traces '
        'and compiles once.',
        f'Fidelity: (a) is the tutorial\'s code cell for cell ({w["source"]}), with its prints '
        'dropped and epoch-end timestamps added; (b) and (c) train the same network from the same '
        'seed on the same 256/64 trials; (d) is the lean loop a careful user writes by hand: one '
        '`brainstate.transform.jit` train step that resets HORN\'s states to the batch shape inside '
        'the step, one jitted evaluation, a `float()` per step. The Trainer compiles its held-out '
        'program ahead of time in a background thread while the first epoch compiles and runs.',
    ])


def _step_compiles(entries):
    if not entries:
        return '-'
    first = entries[0]
    if all(e == first for e in entries):
        return ', '.join(f'{k} {v}' for k, v in first.items()) if len(first) > 1 else str(next(iter(first.values())))
    return '; '.join(', '.join(f'{k} {v}' for k, v in e.items()) for e in entries)


FLOOR_NAMES = {'floor': 'pure-JAX floor (scanned epoch)', 'floor_step': 'pure-JAX, one jax.jit call per batch',
               'trainer_step': 'Trainer, per step', 'trainer_epoch': 'Trainer, compiled epoch'}


def floor_section(w):
    parts = []

    for size in ('i_compute_bound', 'ii_overhead_bound'):
        s = w[size]
        rows = []
        for key, label in FLOOR_NAMES.items():
            if key not in s['variants']:
                continue
            x = s['variants'][key]
            ratio = s['ratios'].get(f'{key}/floor')
            rows.append((label, num(x['steady_ms_per_epoch'], 1), fmt_range(ratio) if ratio else '1',
                         num(x['first_epoch_s'], 2), num(x['compilations'], 0),
                         f'{x["final_loss"]["median"]:.6f}'))
        parts.append(f'**({size.split("_")[0]}) {s["describe"]}**; {s["n_epochs"]} epochs, '
                     f'{s["n_rounds"]} round(s); steady state is the median of epochs 3-{s["n_epochs"]}.')
        parts.append(table(('Variant', 'steady ms/epoch', 'ratio to the floor', 'first epoch (s)',
                            'compilations', 'final loss'), rows))
        extra = [(FLOOR_NAMES[key], FLOOR_NAMES[s["variants"][key]["extra_vs"]], num(s['variants'][key]['extra_ms_per_epoch'], 2),
                  num(s['variants'][key]['extra_us_per_batch'], 0))
                 for key in ('trainer_step', 'trainer_epoch') if 'extra_ms_per_epoch' in s['variants'][key]]
        parts.append(table(('Trainer mode', 'compared with', 'extra ms per epoch', 'extra us per batch'), extra))
        if s.get('profiles'):
            parts.append(profile_tables(s["profiles"]))
    parts.append('Equal work: the floor starts from the RateRNN\'s own initial weights and takes the '
                 'same batches in the same order, so the final losses agree to float rounding (largest '
                 f'spread: {w["i_compute_bound"]["final_loss_spread"]:.1e} and '
                 f'{w["ii_overhead_bound"]["final_loss_spread"]:.1e}). The floor is `RateRNN(cell=\'vanilla\')` '
                 'written out: `h = relu([x, h] W + b)` (brainstate\'s ValinaRNNCell defaults to relu, not '
                 'tanh), a linear readout, masked softmax cross-entropy, `optax.adam`, `jax.lax.scan` over '
                 'time and over the epoch\'s batches inside one `jax.jit`.')
    return '\n\n'.join(parts)


def profile_tables(profiles):
    """cProfile own-time leaders per epoch call, one column block per variant."""
    parts = ['Host profile of 10 further epochs of each (cProfile own time in ms per epoch call; a Trainer '
             'epoch here is a whole `fit(n_epochs=1)` call, and `array.py:_value` is the wait for the device):']
    for key, prof in profiles.items():
        rows = [(f'`{t["function"]}`', f'{t["ms_per_call"]:.2f}', f'{t["calls_per_call"]:.0f}') for t in prof['top']]
        parts.append(f'*{FLOOR_NAMES[key]}* ({prof["ms_per_call"]:.1f} ms per call under the profiler)\n\n'
                     + table(('function', 'ms per epoch', 'calls per epoch'), rows))
    return '\n\n'.join(parts)


def startup_section(w):
    rows = []
    for key, x in w['runs'].items():
        rows.append((key.replace('_', ' '), num(x['imports_s'], 2), num(x['setup_s'], 2),
                     num(x['first_epoch_s'], 2), num(x['total_s'], 2)))
    ratios = [(k.replace('_', ' '), fmt_range(r)) for k, r in w['ratios'].items()]
    parts = [f'Workload {w["workload"]}; a fresh `python` process per measurement, {w["n_rounds"]} round(s). '
             'Seconds from spawning the process: imports (interpreter start included), setup (data, model, '
             'Trainer or optimizer), first epoch (compilation included). Cold: no persistent compilation '
             'cache (JAX\'s default) or an empty one; warm: the cache directory an earlier run of the same '
             'side filled (`python -m trainer train` turns the cache on by default, `--no-compile-cache` '
             'turns it off).',
             table(('Run', 'imports (s)', 'setup (s)', 'first epoch (s)', 'total (s)'), rows),
             table(('Ratio', 'value'), ratios)]
    if w.get('imports'):
        rows = [(name, f'{seconds:.2f}') for name, seconds in w['imports'].items()]
        parts.append('Where the Trainer side\'s import time goes (`python -X importtime`, cumulative '
                     'seconds, one run; nested entries are included in their parents):')
        parts.append(table(('module', 'seconds'), rows))
    return '\n\n'.join(parts)


def fitter_section(w):
    v = w['variants']
    rows = [(label, num(v[key]['total_s'], 3), num(v[key]['steady_ms_per_step'], 3),
             num(v[key]['compilations'], 0), num(v[key]['g'], 4))
            for key, label in (('seed_3b', 'hand-written 3b loop (the seed)'), ('fitter', 'Fitter'))]
    ratios = [(k.replace('_', ' '), fmt_range(r)) for k, r in w['ratios'].items()]
    return '\n\n'.join([
        f'{w["n_steps"]} steps of Adam(0.1) on `GainPopulation(1, g=0.5)`, each a 600-step simulation, '
        f'{w["n_rounds"]} rounds; steady state is the median of steps 11-{w["n_steps"]}.',
        table(('Variant', f'total, {w["n_steps"]} steps (s)', 'steady ms/step', 'compilations',
               'g at the end'), rows),
        table(('Ratio', 'value'), ratios),
        f'The Fitter adds {num(w["extra_us_per_step"], 0)} us per step to the seed loop\'s step.',
        'The two end at different g by design: the Fitter restores the best-seen parameters '
        '(g = 2.0054), the seed loop keeps the last ones (g = 1.9546).',
    ])


def eval_section(w):
    return '\n\n'.join([
        f'`Trainer.evaluate` on the 64 held-out trials of workload 1 (two padded batches of 32, one '
        f'compiled call) against one training epoch (8 steps) of the same warmed Trainer, {w["n_rounds"]} '
        'rounds of a short fit followed by a burst of evaluations.',
        table(('Measure', 'value'), [
            ('training epoch (ms)', num(w['train_epoch_ms'], 2)),
            ('evaluate (ms)', num(w['evaluate_ms'], 2)),
            ('evaluate / epoch', fmt_range(w['ratio'])),
            ('compilations while timed', w['compilations_while_timed'])]),
    ])


def batching_section(w):
    labels = {'numpy_batches': 'numpy fancy indexing, whole batches',
              'grain_batches': '`datasets.batches` (grain), whole batches',
              'numpy_indices': 'numpy slices of the permutation (indices only)',
              'grain_indices': '`datasets.batch_indices` (grain), indices only'}
    rows = [(label, num(w['variants'][key], 2)) for key, label in labels.items()]
    rows += [(f'grain overhead per batch ({kind})', num(w['overhead_us_per_batch'][kind], 2))
             for kind in ('batches', 'indices')]
    return '\n\n'.join([
        f'10k trials of (50, 3) with per-step labels and a mask, batch 64 ({w["n_batches"]} batches an '
        f'epoch), {w["n_rounds"]} rounds; microseconds per batch.',
        table(('Variant', 'us per batch'), rows),
    ])


def scaling_section(w):
    t, h, m = w['trials'], w['hidden'], w['memory']
    trial_rows = [(n, num(p['ms_per_epoch'], 1), fmt_range(p['ratio_to_ideal'])) for n, p in t['points'].items()]
    hidden_rows = [(n, num(p['trainer_ms_per_epoch'], 1), num(p['floor_ms_per_epoch'], 1), fmt_range(p['trainer/floor']))
                   for n, p in h['points'].items()]
    memory_rows = [(mode.replace('_', ' '), f'{x["rss_epoch10_mb"]:.1f}', f'{x["rss_last_mb"]:.1f}',
                    f'{x["growth_10_to_last"] * 100:.2f}%', f'{x["slope_kb_per_epoch"]:.1f}')
                   for mode, x in m['modes'].items()]
    return '\n\n'.join([
        f'Trials: Trainer per step on workload 2 (i) data, hidden {t["hidden"]}, {t["n_epochs"]} epochs, '
        f'{t["n_rounds"]} round(s); steady state is the median of epochs 2-{t["n_epochs"]}; the ratio to '
        'linear is (ms per trial at n) / (ms per trial at the smallest n).',
        table(('trials', 'ms/epoch', 'ratio to linear'), trial_rows),
        f'Hidden units: Trainer per step against the floor, {h["n_trials"]} trials, {h["n_epochs"]} epochs, '
        f'{h["n_rounds"]} round(s).',
        table(('hidden', 'Trainer ms/epoch', 'floor ms/epoch', 'Trainer / floor'), hidden_rows),
        f'Memory: a {m["n_epochs"]}-epoch fit ({m["n_trials"]} trials of workload 2 (ii), held-out '
        'evaluation every epoch), resident memory read from `/proc/self/status` after every epoch; '
        f'peak resident memory of the whole benchmark process: {m["peak_rss_mb"]:.0f} MiB.',
        table(('mode', 'RSS at epoch 10 (MiB)', f'RSS at epoch {m["n_epochs"]} (MiB)', 'growth',
               'slope (KiB/epoch)'), memory_rows),
    ])


def devices_section(w):
    rows = [(n, num(p['ms_per_epoch'], 1), fmt_range(p['throughput_vs_1'])) for n, p in w['points'].items()]
    return '\n\n'.join([
        'The compute-bound rate RNN (perceptual decision making, 1024 trials, hidden 128, global batch 64, '
        'compiled epochs) with `Trainer(devices=n)`, epochs interleaved across the device counts in one '
        'process that sees 4 forced host devices. Losses agree across counts (same program, split batch).',
        table(('devices', 'ms/epoch (steady)', 'throughput vs 1 device'), rows),
        'Why it does not scale here: the "devices" are XLA host devices carved out of the same 2 CPU cores. '
        'One device already runs its matrix products on both cores; splitting the batch adds the '
        'all-reduce of the gradients and the sums and halves each device\'s work, so a CPU split only '
        'measures the overhead of the sharded program.',
        'On a multi-GPU machine (install `jax[cuda12]`, i.e. `pip install -e ".[cuda12]"`), fill in the '
        'table below with `python benchmarks/devices.py --devices 1,2,4,8` (strong scaling, fixed global '
        'batch) and `python benchmarks/devices.py --devices 1,2,4,8 --weak` (weak scaling, batch 64 per '
        'device); the goal is >= 0.9x linear weak scaling from 1 to 8 devices.',
        table(('devices', 'strong scaling (throughput vs 1)', 'weak scaling (throughput vs 1)'),
              [(n, 'to fill', 'to fill') for n in (1, 2, 4, 8)]),
    ])


def ensemble_section(w):
    wall, scan, floor = w['wall'], w['k_scan'], w['floor']
    labels = {'sequential': f'{wall["n_members"]} sequential `Trainer.fit` calls',
              'ensemble': f'one `Ensemble` of {wall["n_members"]} (vmapped)',
              'ensemble_map': f'one `Ensemble` of {wall["n_members"]}, `member_batch=1` (`lax.map`)'}
    rows = [(label, num(wall['variants'][key]['total_s'], 1), num(wall['variants'][key]['steady_ms_per_epoch'], 0),
             num(wall['variants'][key]['compilations'], 0)) for key, label in labels.items()
            if key in wall['variants']]
    ratios = [(k.replace('_', ' '), fmt_range(r)) for k, r in wall['ratios'].items()]
    k_rows = [(k, num(p['one_network_ms_per_epoch'], 0), num(p['ensemble_ms_per_epoch'], 0), fmt_range(p['ratio']))
              for k, p in scan['points'].items()]
    k2 = scan['k_at_2x']
    return '\n\n'.join([
        f'{wall["n_members"]} GRU rate RNNs (hidden 64, seeds 0-{wall["n_members"] - 1}) on perceptual decision '
        f'making (512 training, 128 held-out trials of 110 steps, batch 64, Adam(1e-2), held-out evaluation '
        f'each epoch), {wall["n_epochs"]} epochs, {wall["n_rounds"]} round(s), order rotated. Steady state is '
        f'the median of epochs 3-{wall["n_epochs"]}; for the sequential side the sum of the {wall["n_members"]} '
        'networks\' medians. Compilations count every XLA compilation of the job (initialisers included); '
        f'the ensemble\'s own programs: {wall["variants"]["ensemble"]["program_compilations"]}. Equal work: '
        f'the final held-out losses agree within {wall["final_held_out_loss_spread"]:.1e}.',
        table(('Side', 'total (s)', 'steady ms/epoch', 'compilations'), rows),
        table(('Ratio (per round, then median [min-max])', 'value'), ratios),
        f'Growing K (training epochs only, {scan["n_epochs"]} epochs, steady = median of epochs 2-{scan["n_epochs"]}, '
        f'{scan["n_rounds"]} round(s), each K paired with a one-network Trainer fit; the scan stops past 2x):',
        table(('K', 'one network ms/epoch', 'ensemble ms/epoch', 'ensemble / one network'), k_rows),
        'K at which an ensemble epoch costs 2x one network\'s: ' + (f'{k2:.1f} (interpolated in log K).' if k2
                                                                    else 'not reached in the scan.'),
        f'Compute floor: one batch\'s loss and gradient of the same GRU in pure JAX, `jax.vmap`-ed over '
        f'{floor["n_members"]} weight sets, {num(floor["vmapped_ms"], 0)} ms, against {floor["n_members"]} calls on one, '
        f'{num(floor["one_by_one_ms"], 0)} ms: {fmt_range(floor["ratio"])} ({floor["n_rounds"]} rounds).',
    ])


FIELD_NAMES = {'ours_step': 'Trainer, per step (default), empty compile cache',
               'ours_step_warm': 'Trainer, per step (default), warm compile cache',
               'ours_epoch': 'Trainer, compiled epoch, empty compile cache',
               'keras': 'Keras 3, JAX backend, model.fit', 'torch': 'PyTorch, 2 threads',
               'torch_1thread': 'PyTorch, 1 thread'}


def pytorch_section(w):
    p = w['peak']
    parts = [f'Each cell is one fresh process per variant and round ({w["n_rounds"]} round(s), order rotated), '
             'imports and compilation included; steady is the median of epochs 3-n, each epoch with its '
             'held-out pass. Same trials, batch order, masked mean cross-entropy and GRU width; each library '
             'initialises its own weights. Fraction of peak: matmul FLOPs from the shapes (training 3x the '
             f'forward) over {p["gflops"]:.0f} GFLOP/s ({p["cores"]} cores x {p["flop_per_cycle_per_core"]} '
             f'FLOP/cycle x {p["mhz"]:.0f} MHz; flags {", ".join(p["flags"])}; {p["assumes"]}).']
    for name, x in w['workloads'].items():
        rows, ref = [], 'torch' if 'torch' in x['variants'] else 'torch_1thread'
        for key, label in FIELD_NAMES.items():
            v = x['variants'].get(key)
            if v is None:
                continue
            ratio = x['ratios'].get(f'{key}/{ref} steady_ms_per_epoch')
            rows.append((label, num(v['steady_ms_per_epoch'], 1),
                         fmt_range(ratio) if ratio else ('1' if key == ref else '-'),
                         f'{100 * v["fraction_of_peak"]["median"]:.1f}%', num(v['first_epoch_s'], 2),
                         num(v['process_s'], 2), num(v['imports_s'], 2), num(v['minor_faults'], 0),
                         f'{v["final_held_out_loss"]["median"]:.4f}'))
        parts.append(f'**{name}: {x["describe"]}**; {x["gflop_per_epoch"]:.1f} GFLOP per epoch.')
        parts.append(table(('Variant', 'steady ms/epoch', f'ratio to {FIELD_NAMES[ref]}', 'of peak',
                            'first epoch incl. build + compile (s)', 'whole process (s)', 'imports (s)',
                            'minor page faults', 'final held-out loss'), rows))
    return '\n\n'.join(parts)



def population_section(w):
    rows = [(c['model'], num(c['seconds_per_generation_rounds']['vmapped'], 3),
             num(c['seconds_per_generation_rounds']['one_at_a_time'], 3),
             f'{c["generations_per_second"]["vmapped"]:.2f}', f'{c["generations_per_second"]["one_at_a_time"]:.2f}',
             fmt_range(c['ratio_vmapped/one_at_a_time']))
            for c in w['cases']]
    return '\n\n'.join([
        f'The same evosax CMA-ES (population {w["population"]}), Hopf model and FC loss two ways, side by side in '
        'one process, order alternated each round: *vmapped* is the Fitter\'s `backend=\'evosax\'` generation '
        '(ask, every candidate in one compiled `jax.vmap`, tell); *one at a time* is brainmass\'s way, the same '
        f'compiled single-candidate loss called {w["population"]} times per generation from the host. Seconds per '
        'generation after compiling, each round the mean over its generations, median [min-max] over rounds; the '
        f'ratio is taken per round. Devices: {", ".join(w["devices"])}.',
        table(('Model', 'vmapped s/generation', 'one at a time s/generation', 'vmapped generations/s',
               'one at a time generations/s', 'vmapped / one at a time'), rows),
        'No target: neither the benchmark nor the README states a bound, so the ratio is reported, not judged. '
        'The 80-region model is compute-bound on a CPU, so a vmapped generation saves the per-candidate '
        'dispatch but not the arithmetic; on the 8-region one that dispatch is most of a generation.',
    ])


STREAM_SIDES = {'stored': '(a) stored trials, gathered by index', 'stream': '(b) stream, drawn inside the scan',
                'apart': '(c) stream, generated in a program of its own'}


def streams_section(w):
    e, m, t, tm = w['epoch'], w['multitask'], w['trainer'], w['trainer_multitask']
    generation = [(name, g['n_steps'], g['n_features'], f'{g["first_call_s"]:.2f}', num(g['trials_per_s'], 0))
                  for name, g in w['generation'].items()]
    epochs = []
    for key, label in STREAM_SIDES.items():
        ratio = lambda x: fmt_range(x[f'ratio_{key}/stored']) if key != 'stored' else '1'  # noqa: E731
        epochs.append((label, f'{e["first_call_s"][key]:.2f}', num(e['epoch_s'][key], 1, 1e3), ratio(e),
                       f'{m["first_call_s"][key]:.2f}', num(m['epoch_s'][key], 1, 1e3), ratio(m)))
    trainer = [(label, f'{t["first_epoch_s"][key]:.2f}', num(t['epoch_s'][key], 1, 1e3),
                f'{tm["first_epoch_s"][key]:.2f}', num(tm['epoch_s'][key], 1, 1e3))
               for key, label in (('stored', 'stored trials'), ('stream', 'device stream'))]
    trainer.append(('stream / stored', '', fmt_range(t['ratio_stream/stored']), '',
                    fmt_range(tm['ratio_stream/stored'])))
    n_rounds = e['epoch_s']['stored']['n']
    parts = [
        f'Device generation: each cogtask stream\'s draw `jax.vmap`-ed over one epoch\'s {e["n_steps"]} keys of '
        f'{e["batch_size"]} trials, on {w["device"]}; the first call compiles, trials per second are over '
        'the calls after it.',
        table(('task', 'steps per trial', 'features', 'first call (s)', 'trials/s'), generation),
        f'Epochs: a hand-written jitted `lax.scan` of a GRU train step (hidden {e["hidden"]}, SGD, masked '
        f'cross-entropy) over {e["n_steps"]} batches of {e["batch_size"]} trials, on {e["task"]} and on the '
        f'eight-task mixture ({", ".join(m["tasks"])}; {m["n_steps"]} steps, {m["n_features"]} features with the '
        f'rule inputs), the three sides in rotating rounds ({n_rounds}), each epoch with its own epoch number; '
        'the first call compiles. Milliseconds per epoch median [min-max]; ratios per round.',
        table(('Side', 'one task: first call (s)', 'ms/epoch', 'vs stored', 'eight tasks: first call (s)',
               'ms/epoch', 'vs stored'), epochs),
        f'Through the `Trainer` (a `RateRNN` GRU of {t["hidden"]}, Adam, compiled epochs of {t["n_steps"]} '
        f'batches of {t["batch_size"]}, a small held-out pass each epoch): `fit(stream, steps_per_epoch='
        f'{t["n_steps"]})` draws the trials in the compiled step, against one epoch on as many stored trials.',
        table(('Side', 'one task: first epoch (s)', 'ms/epoch', 'eight tasks: first epoch (s)', 'ms/epoch'),
              trainer),
    ]
    ng = w.get('neurogym')
    parts.append(f'neurogym\'s host generation, through `datasets.stream(env)`: {num(ng["ms_per_16_batch"], 2)} ms '
                 f'per 16-trial batch of PerceptualDecisionMaking-v0 at dt 20 ms ({ng["n_steps"]} steps; its '
                 'PR #137 reports about 8 ms per 16x100 batch).' if ng else
                 'neurogym is not installed: its host generation was not measured.')
    return '\n\n'.join(parts)


def long_trials_section(w):
    lengths = [str(n) for n in w['lengths']]
    gradients = list(w['memory_mib'])
    memory = [(n, *(f'{w["memory_mib"][g][n]:.2f}' for g in gradients)) for n in lengths]
    memory.append((f'x from T={lengths[-2]} to T={lengths[-1]}', *(f'{w["growth"][g]:.3f}' for g in gradients)))
    timed = [str(n) for n in w['timed_lengths']]
    epochs = [(n, *(f'{w["epoch_s"][g][n]:.3f}' for g in gradients)) for n in timed]
    return '\n\n'.join([
        f'One model for every `Trainer(gradient=...)`: {w["model"]} (every weight has an online gradient), '
        f'batch {w["batch"]}, 3 inputs, 2 outputs, an MSE on every step; TBPTT and online in chunks of '
        f'{w["chunk"]} steps, remat as {w["chunk"]}-step checkpointed chunks. Memory is XLA\'s '
        '`temp_size_in_bytes` of the compiled train step (`memory_analysis()`): the scratch it needs besides '
        'its arguments and outputs, a property of the program, so one compilation per cell and no rounds.',
        table(('T (steps)', *(f'{g} MiB' for g in gradients)), memory),
        f'Full BPTT\'s scratch grows {w["bptt_mib_per_1000_steps"]:.1f} MiB per 1000 steps and passes '
        f'{w["budget_gib"]:g} GiB at T ~ {w["bptt_budget_length"]}; TBPTT\'s and online\'s do not grow with T.',
        'Seconds of one epoch (one batch of trials; TBPTT and online take T/k chunk steps), after a compiling '
        'epoch, the fastest of a few; a shared machine\'s time, no claim:',
        table(('T (steps)', *(f'{g} s/epoch' for g in gradients)), epochs),
    ])


SECTIONS = {'devices': devices_section, 'horn': horn_section, 'floor': floor_section, 'startup': startup_section,
            'fitter': fitter_section, 'eval': eval_section, 'batching': batching_section, 'scaling': scaling_section,
            'ensemble': ensemble_section, 'pytorch': pytorch_section, 'population': population_section,
            'streams': streams_section, 'long_trials': long_trials_section}


def _host_leaders(profile, n=4):
    rows = [t for t in profile['top'] if not t['function'].endswith(':_value')][:n]
    return ', '.join(f'`{t["function"]}` {t["ms_per_call"]:.2f} ms' for t in rows)


def diagnose(name, measure, w):
    """What the measurements in this run say about a miss (profiles, overheads, compile counts)."""
    if name == 'floor' and '(ii)' in measure:
        s = w['ii_overhead_bound']
        if 'per-step' in measure:
            return (f'Against that per-step pure-JAX loop the Trainer is '
                    f'{fmt_range(s["ratios"]["trainer_step/floor_step"])}: the gap to the scanned floor is '
                    'the cost of dispatching one compiled program per batch from Python, which only the '
                    'compiled-epoch mode avoids.')
        v = s['variants']['trainer_epoch']
        text = (f'The Trainer adds {num(v["extra_ms_per_epoch"], 2)} ms per epoch '
                f'({num(v["extra_us_per_batch"], 0)} us per batch) to a floor epoch of '
                f'{num(s["variants"]["floor"]["steady_ms_per_epoch"], 1)} ms, all of it host work outside '
                'the compiled program (the losses agree, so the programs do equal work).')
        if s.get('profiles'):
            text += f' Host leaders per epoch: {_host_leaders(s["profiles"]["trainer_epoch"])}.'
        return text + (' Per epoch the Trainer makes one `brainstate.transform.jit` call (cache-key '
                       'hashing and a staleness check over every state, then reading and writing back '
                       'every parameter, optimizer and hidden state; the learning-rate schedule now '
                       'advances inside it) and one host copy of the per-batch losses. About 1 ms of '
                       'host work against an 11 ms epoch is within this machine\'s round-to-round '
                       'spread (see min-max); calling the epoch through a pure jax.jit of the state '
                       'values (as the per-step mode does) measured no difference.')
    if name == 'floor':
        size = w['i_compute_bound']
        key = 'trainer_step' if 'per-step' in measure else 'trainer_epoch'
        v = size['variants'][key]
        text = (f'The Trainer adds {num(v["extra_ms_per_epoch"], 1)} ms per epoch to the '
                f'{FLOOR_NAMES[v["extra_vs"]]} ({num(size["variants"][v["extra_vs"]]["steady_ms_per_epoch"], 0)} ms); '
                'the epoch is compute-bound, so read the ratio against its min-max.')
        if key == 'trainer_step':
            text += (f' The pure-JAX per-step loop is {fmt_range(size["ratios"]["floor_step/floor"])} the '
                     f'scanned floor, and the Trainer {fmt_range(size["ratios"]["trainer_step/floor_step"])} '
                     'that loop: one XLA call per batch instead of one scan per epoch.')
        return text
    if name == 'fitter':
        return (f'The Fitter adds {num(w["extra_us_per_step"], 0)} us per step (negative: it is faster) to a seed step '
                f'of {num(w["variants"]["seed_3b"]["steady_ms_per_step"], 3)} ms. Both loops make one '
                'compiled call and one host read per step; the Fitter\'s call is a `jax.jit` of a pure '
                'function of the whole `TrainState` (parameters, Adam moments, schedule, RNG) that '
                'returns the new state, the prediction, the loss and a finiteness flag (one transfer). '
                'This workload times each step with a callback, and a callback must see the model after '
                'the step: the previous round wrote the whole state back (150-400 us: the hidden-state '
                'lookup, local copies, seven State writes), now `Program.writer` looks the states up once '
                'and writes only the slots a program changes (the parameter and two Adam moments).\n')
    if name == 'batching':
        o = w['overhead_us_per_batch']
        return (f'Of the overhead, the grain index stream accounts for {num(o["indices"], 1)} us per batch; '
                'the rest is the generator that gathers the three arrays. Per-batch times are tens of '
                'microseconds, so the min-max shows how much of the miss is noise.')
    if name == 'scaling':
        return 'See the scaling tables: the per-trial cost grows with the data size.'
    if name == 'ensemble':
        floor = w['floor']
        return (f'On this machine the work itself does not shrink when vmapped: the pure-JAX loss and gradient '
                f'of the same GRU over {floor["n_members"]} weight sets costs {fmt_range(floor["ratio"])} '
                f'{floor["n_members"]} separate calls, so an ensemble saves compilations and per-step dispatch '
                'but not the arithmetic, which dominates a 110-step GRU epoch on this CPU; the ensemble\'s own '
                'overhead is its ratio over that floor.')
    if name == 'streams' and measure.startswith('stream'):
        # Only the one-task stream has a measured generation rate to weigh the gap against.
        e = w['epoch']
        side = 'apart' if 'apart' in measure else 'stream'
        gap_ms = 1e3 * (e['epoch_s'][side]['median'] - e['epoch_s']['stored']['median'])
        generation_ms = 1e3 * e['n_steps'] * e['batch_size'] / w['generation'][e['task']]['trials_per_s']['median']
        rest = ', so the rest is not the trials\' generation.' if generation_ms < gap_ms else ', as much as the gap.'
        return (f'This side\'s epoch is {gap_ms:.1f} ms over the stored one ({num(e["epoch_s"]["stored"], 1, 1e3)} '
                f'ms); drawing the epoch\'s {e["n_steps"] * e["batch_size"]} trials at the measured generation rate '
                f'takes {generation_ms:.1f} ms' + rest)
    if name == 'long_trials':
        return (f'Step memory is deterministic (one compilation per cell); the growth per gradient from the '
                f'shorter to the longer trials was {", ".join(f"{g} {x:.3f}x" for g, x in w["growth"].items())}.')
    return 'See the workload\'s section.'
