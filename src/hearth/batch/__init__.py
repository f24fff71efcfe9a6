"""Offline batch jobs in OpenAI's Batch file format (``hearth batch IN.jsonl -o OUT.jsonl``).

* :mod:`hearth.batch.lines`: the input file read and checked up front (each line's
  ``custom_id``, ``method``, ``url``, ``body``); a line's body decoded by the server's own OpenAI
  codecs into a hearth request; answers and errors as output lines. Pure: no I/O.
* :mod:`hearth.batch.output`: the output file: what a previous run finished (to skip it), a
  torn last line cut off, one flushed line per result.
* :mod:`hearth.batch.runner`: the run itself: every line's request on its model, as many at
  once as the model has slots, results written in order of completion, progress reported.
"""
