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

# Own objectives (README: "Tune your own code"). What a trial keeps of what its code prints or reports,
# so that no objective can take unbounded memory or time from the search.
#: ``timeout`` and ``grace`` of an objective, in seconds (7 days).
MAX_OBJECTIVE_SECONDS = 7 * 24 * 3600
#: A line of a command's stdout longer than this many bytes is skipped (counted), never parsed.
MAX_LINE_BYTES = 1024 * 1024
#: A trial keeps at most this many numbers besides its metric (the first ones of its final report).
MAX_METRICS = 100
#: A trial keeps at most this many per-epoch reports in its history (later ones are counted, not kept).
MAX_HISTORY = 10_000
#: ``stdout.log`` of a trial stops at this many bytes (a line at its end says how much more was printed).
MAX_LOG_BYTES = 10 * 1024 * 1024
