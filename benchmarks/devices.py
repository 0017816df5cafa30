"""Workload 7: data parallel -- the compute-bound rate RNN split over 1, 2 and 4 devices.

On this machine the devices are forced host (CPU) devices
(``--xla_force_host_platform_device_count=4``) sharing its cores, so the
numbers show the overhead of the sharded program, not a speed-up a GPU node
would give. The same script measures real accelerators: on a multi-GPU
machine run ``python benchmarks/devices.py --devices 1,2,4,8`` (strong
scaling: a fixed global batch) and ``--weak`` (weak scaling: the batch grows
with the device count).

Run alone: ``python benchmarks/devices.py [--quick]``.
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
COUNTS = (1, 2, 4)


def child(counts, n_epochs, n_rounds, weak):
    """In a process that sees the devices: interleaved epochs at each device count."""
    import braintools
    import trainer
    import floor

    class DevicesRunner(floor.TrainerRunner):
        def __init__(self, ds, hidden, lr, devices, batch):
            super().__init__(ds, hidden, lr, compile_epoch=True)
            self.devices, self.batch = devices, batch

        def start(self):
            begin = floor.now()
            self.trainer = trainer.Trainer(self.model, braintools.optim.Adam(lr=self.lr), progress=False,
                                           objective=trainer.objectives.cross_entropy(), devices=self.devices)
            self.epoch()
            return floor.now() - begin

        def epoch(self):
            self.k += 1
            row = self.trainer.fit(self.ds, n_epochs=1, batch_size=self.batch, seed=self.k,
                                   compile_epoch=True).history[-1]
            self.final_loss = row['loss']
            return row['time']

    size = floor.SIZES['i_compute_bound']
    ds = floor.dataset('i_compute_bound', 1024)

    def runners():
        return {f'{n} devices': DevicesRunner(ds, size['hidden'], size['lr'], n,
                                              floor.BATCH * (n if weak else 1)) for n in counts}

    raw, _ = floor.interleave(runners, n_epochs, n_rounds, label='devices')
    base = f'{counts[0]} devices'
    out = {'counts': list(counts), 'weak': weak, 'points': {}}
    for n in counts:
        name = f'{n} devices'
        # Throughput relative to one device: samples per second, as a ratio of epoch times.
        per_epoch = floor.steady_ratio(raw, base, name, first=2)
        scale = n if weak else 1
        out['points'][str(n)] = {
            'ms_per_epoch': floor.steady_ms(raw[name], first=2),
            'throughput_vs_1': {k: ([x * scale for x in v] if k == 'samples' else v * scale if k in (
                'median', 'min', 'max') else v) for k, v in per_epoch.items()},
            'final_loss': raw[name]['final_loss']}
    return out


def run(quick, counts=COUNTS, weak=False):
    """Spawn a process that sees ``max(counts)`` host devices and measure there."""
    from _common import judge
    env = dict(os.environ, XLA_FLAGS=f'--xla_force_host_platform_device_count={max(counts)}',
               JAX_PLATFORMS=os.environ.get('JAX_PLATFORMS', 'cpu'))
    args = [sys.executable, os.path.join(HERE, 'devices.py'), '--child', '--devices',
            ','.join(map(str, counts)), '--epochs', '4' if quick else '8', '--rounds', '1' if quick else '2']
    done = subprocess.run(args + (['--weak'] if weak else []), env=env, check=True, capture_output=True,
                          text=True, cwd=HERE)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    cores = len(os.sched_getaffinity(0))
    reason = (f'{max(counts)} forced host devices share {cores} CPU cores: a device count above the '
              'core count cannot add compute, and below it XLA already spreads one device over the cores')
    out['targets'] = {}
    for n in counts[1:]:
        # Linear: n times one device's throughput; the goal on accelerators is >= 0.9 of it.
        efficiency = {k: (v / n if k in ('median', 'min', 'max') else [x / n for x in v] if k == 'samples' else v)
                      for k, v in out['points'][str(n)]['throughput_vs_1'].items()}
        out['targets'][f'{n} devices: throughput / ({n} x one device)'] = judge(
            efficiency, 0.9, lower=True, unit='', unreachable=reason)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--devices', default=','.join(map(str, COUNTS)))
    parser.add_argument('--weak', action='store_true', help='grow the global batch with the device count')
    parser.add_argument('--epochs', type=int, default=8)
    parser.add_argument('--rounds', type=int, default=2)
    args = parser.parse_args(argv)
    counts = tuple(int(n) for n in args.devices.split(','))
    if args.child:
        print(json.dumps(child(counts, args.epochs, args.rounds, args.weak)))
        return
    print(json.dumps(run(args.quick, counts, args.weak), indent=1))


if __name__ == '__main__':
    main()
