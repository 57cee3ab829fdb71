"""Placeholder while the subcommand is written (replaced before commit)."""


def add_parser(sub) -> None:
    sub.add_parser("benchmark", help="(being built)")
