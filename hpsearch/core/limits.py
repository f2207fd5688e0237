"""Every limit hpsearch puts on its input, in one place (docs/reference/limits.md).

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
#: The largest search seed (``search.seed``, ``run --seed``): the most digits a config file may hold, so that a
#: run's own config.yaml always reads back.
MAX_SEED = 10**MAX_INT_DIGITS - 1
#: Trials of one round (``trials``, ``zoom_trials``, a grid, ``--trials``), and ``top_k``.
MAX_TRIALS = 100_000
#: Rounds of one run (``search.rounds``).
MAX_ROUNDS = 1_000
#: Worker processes (``workers``, ``--workers``); more than the CPU cores gets a warning.
MAX_WORKERS = 4_096

# Own objectives (docs/tutorial/your-code.md). What a trial keeps of what its code prints or reports,
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

# Files a run folder or a model holds (docs/reference/limits.md). A run folder or a model may come from someone else.
#: JSON read back from a run or a model (a row's params, a model's ``prep_meta``) nests at most this deep.
MAX_JSON_DEPTH = 100
#: A ``dataset.json`` (or other small JSON file of a run) larger than this is refused.
MAX_META_BYTES = 10_000_000
#: A data source file is compared by content (SHA-256) only up to this size; larger: by size and time only.
MAX_HASH_BYTES = 4 * 1024**3
#: Columns of a CSV data file.
MAX_CSV_COLUMNS = 200_000
#: Characters in one CSV cell.
MAX_CELL_CHARS = 1_000_000
#: A text column of a CSV, as NumPy fixed-width text (its longest cell × its rows × 4 bytes).
MAX_TEXT_COLUMN_BYTES = 256 * 1024**2
