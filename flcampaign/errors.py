"""The one error type a campaign reports for bad input: it names candidate, file and rule."""


class ContractViolation(Exception):
    """A candidate broke a rule; recorded as ``invalid`` with this message."""

    def __init__(self, candidate: str, file: str, rule: str, detail: str):
        self.candidate, self.file, self.rule, self.detail = candidate, file, rule, detail
        super().__init__(f"candidate {candidate}: {file}: rule {rule}: {detail}")

    def as_dict(self) -> dict:
        return {"candidate": self.candidate, "file": self.file, "rule": self.rule, "detail": self.detail}
