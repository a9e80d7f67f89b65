"""A failure with a cause, so tracebacks show chained exceptions from two files of the package."""


def fail_with_cause():
    try:
        {}["missing"]
    except KeyError as exc:
        raise RuntimeError("the package failed with a cause") from exc
