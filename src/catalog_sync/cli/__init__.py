"""The ``catalog-sync`` command line: thin commands over the library.

Each command group lives in its own module and registers itself on :data:`main`; errors a user
can act on are mapped to a message and an exit code in one place (:func:`run_command`).
"""

from __future__ import annotations

import click

from catalog_sync import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="catalog-sync")
def main() -> None:
    """Keep Digital River SKU / inventory-item pairs in sync and run distributed fulfillment."""
    from catalog_sync.cli.common import restrict_new_files  # noqa: PLC0415 - see _register

    restrict_new_files()


def _register() -> None:
    """Import the command modules; each adds its commands to :data:`main`."""
    from catalog_sync.cli import catalog, events, orders, report, run, sandbox, state  # noqa: F401, PLC0415


_register()
