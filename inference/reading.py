"""Placeholder until the reading module lands."""
class ReadError(Exception):
    def __init__(self, path, reason):
        super().__init__(f"{path}: {reason}"); self.path=path; self.reason=reason
