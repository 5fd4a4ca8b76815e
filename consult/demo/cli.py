import click


@click.group("demo", help="The demo town.")
def demo_cli() -> None:
    pass
