"""Every limit hpsearch puts on its input, in one place (README: "Limits").

They are checked when a config or a command line is read, before anything is
written, so that no input can make a run that ``resume`` cannot handle, and no
input can take unbounded memory or time.
"""

#: A config file larger than this is refused without reading further (``/dev/zero`` ends at once).
MAX_CONFIG_BYTES = 1_000_000
#: YAML nesting deeper than this is refused (a config needs three or four levels).
MAX_YAML_DEPTH = 50
#: A YAML document whose aliases expand it past this many characters is refused (an alias bomb).
MAX_YAML_EXPANDED = 2_000_000
#: Integers in a config have at most this many digits (none overflows a float or SQLite).
MAX_INT_DIGITS = 18
#: Trials of one round (``trials``, ``zoom_trials``, a grid, ``--trials``), and ``top_k``.
MAX_TRIALS = 100_000
#: Rounds of one run (``search.rounds``).
MAX_ROUNDS = 1_000
#: Worker processes (``workers``, ``--workers``); more than the CPU cores gets a warning.
MAX_WORKERS = 4_096
