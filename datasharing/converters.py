"""URL converters: job ids never contain ':' so `pkg.X:push` routes to the action, not to `pkg.X`."""


class JobIdConverter:
    regex = r"[A-Za-z0-9._-]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
