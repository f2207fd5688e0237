"""``hpsearch serve``: a live, read-only view of the runs folder in a browser.

``runs`` finds run folders by name (never outside the runs folder) and reads them without writing a byte, while
another process may be writing them; ``views`` turns a run into the JSON the pages draw (through the same
``analysis`` views as ``show``, ``plot`` and report.html); ``server`` answers HTTP with the standard library's
threaded server; the pages and their scripts are the files of ``static/``, and plotly.js comes from the plotly
package (the ``serve`` extra), never from the network.
"""
