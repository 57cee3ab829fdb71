"""Placeholder while the subcommand is written (replaced before commit)."""


def add_parser(sub) -> None:
    sub.add_parser("data", help="(being built)")
