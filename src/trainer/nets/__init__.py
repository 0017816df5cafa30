"""Brain-constrained networks: leaky E/I rate networks and spiking LIF networks.

The public names live in :mod:`trainer.models`; this folder holds their parts:
:mod:`~trainer.nets.connectivity` (Dale signs, masks, initial spectra),
:mod:`~trainer.nets.wiring` (the three weight matrices as ``Param`` s),
:mod:`~trainer.nets.mode` (train vs evaluation), :mod:`~trainer.nets.leaky`
and :mod:`~trainer.nets.spiking`.
"""
