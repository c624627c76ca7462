"""Deterministic simulation harness for the consensus core.

N in-process ``ConsensusCore`` instances on a seeded network and a fake
clock, with crash/restart from WAL and safety storage and Byzantine scripts.
``run_seed(seed, n)`` replays one schedule exactly; see ``world.py`` for the
properties it checks.
"""
from .world import Scenario, SimFailure, SimResult, World, random_scenario, run_seed

__all__ = ["Scenario", "SimFailure", "SimResult", "World", "random_scenario", "run_seed"]
