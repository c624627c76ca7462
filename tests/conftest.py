"""Shared pytest configuration: options and markers for the whole suite."""


def pytest_addoption(parser):
    parser.addoption(
        "--seeds", type=int, default=10_000,
        help="schedules per validator count for the consensus soak "
             "(tests/consensus/test_soak.py, run with -m slow)")
