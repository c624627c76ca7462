"""Portfolio margin (issue 17): scenario requirement of one underlying (``scenarios.py``) and the opt-in mode (``mode.py``)."""
