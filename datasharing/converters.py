"""URL converters: job ids never contain ':' so `pkg.X:push` routes to the action, not to `pkg.X`."""


class JobIdConverter:
    regex = r"[A-Za-z0-9._-]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class RowIdConverter:
    """A database row id in a path (`rules/<rowid:rule_id>`): ASCII digits, 1 to 2**63-1. Django's
    `int` converter takes any number of digits, which SQLite cannot compare (OverflowError)."""

    regex = r"[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        from datasharing.query import parse_int

        number = parse_int(value, minimum=1)
        if number is None:
            raise ValueError(value)  # no match: 404
        return number

    def to_url(self, value: int) -> str:
        return str(value)
