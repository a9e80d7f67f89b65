"""Progress: a loop's fraction done as few reports, by step and by time, never backwards."""

from __future__ import annotations

from gpu_worker.compute.progress import Progress


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_reports_once_per_step_of_a_fast_loop() -> None:
    reported: list[float] = []
    progress = Progress(reported.append, steps=10, clock=_Clock())

    for done in range(1, 1001):
        progress.update(done / 1000)

    # The first call reports (the loop has started), then each new tenth.
    assert reported == [0.001] + [step / 10 for step in range(1, 11)]


def test_progress_reports_within_a_step_once_the_interval_passed() -> None:
    reported: list[float] = []
    clock = _Clock()
    progress = Progress(reported.append, steps=10, interval_s=0.5, clock=clock)
    progress.update(0.01)

    clock.now = 0.4
    progress.update(0.02)
    clock.now = 0.6
    progress.update(0.03)

    assert reported == [0.01, 0.03]


def test_progress_never_reports_the_same_or_a_lower_value() -> None:
    reported: list[float] = []
    clock = _Clock()
    progress = Progress(reported.append, steps=10, interval_s=0.5, clock=clock)
    progress.update(0.5)

    clock.now = 10.0
    progress.update(0.5)
    progress.update(0.2)

    assert reported == [0.5]


def test_progress_part_maps_an_items_fraction_onto_the_whole() -> None:
    reported: list[float] = []
    progress = Progress(reported.append, steps=4, clock=_Clock())

    for index in range(2):
        for fraction in (0.5, 1.0):
            progress.part(index, 2)(fraction)

    assert reported == [0.25, 0.5, 0.75, 1.0]


def test_progress_clips_to_the_unit_interval() -> None:
    reported: list[float] = []
    progress = Progress(reported.append, clock=_Clock())

    progress.update(1.5)

    assert reported == [1.0]
