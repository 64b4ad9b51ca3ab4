"""The on-disk format in one place: tag names and versions (``format``), the writer the SDK
uses (``event_writer``, ``scalar_event``, ``record_crc``, ``run_log``), the reader the CLI
uses (``event_reader``, ``runs``), and ``RunData``, the engine's only input (``run_data``).
Torch-free: the CLI, the plugin and the engine import it."""
