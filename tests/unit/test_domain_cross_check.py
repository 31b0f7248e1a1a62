"""One model's out-of-domain verdict vetoes the other's evidence on nearby frames (issue 15)."""

from __future__ import annotations

from perception.core.domain_cross_check import DomainCrossCheck, SourceVerdict


def verdict(source: str, stamp_s: float, in_domain: bool) -> SourceVerdict:
    return SourceVerdict(source, f"{source}@test", stamp_s, 0.5 if in_domain else 2.0, in_domain)


def test_an_out_of_domain_verdict_vetoes_the_other_source_within_the_window_either_side() -> None:
    check = DomainCrossCheck()
    check.record(verdict("detections", 10.0, in_domain=False))
    assert check.veto("caption", 10.0, 1.0) == verdict("detections", 10.0, in_domain=False)
    assert check.veto("caption", 9.2, 1.0) is not None  # the caption's frame came first
    assert check.veto("caption", 10.9, 1.0) is not None
    assert check.veto("caption", 11.5, 1.0) is None  # beyond the window
    assert check.veto("caption", 11.5, 2.0) is not None
    assert check.veto("detections", 10.0, 1.0) is None  # a source never vetoes itself


def test_only_the_latest_verdict_of_each_source_counts() -> None:
    check = DomainCrossCheck()
    check.record(verdict("detections", 10.0, in_domain=False))
    check.record(verdict("detections", 10.1, in_domain=True))  # the camera came back into the domain
    assert check.veto("caption", 10.0, 1.0) is None
    check.record(verdict("caption", 10.2, in_domain=False))
    assert check.veto("detections", 10.1, 1.0).source == "caption"
