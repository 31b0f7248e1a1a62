"""Hazard node and out-of-domain evidence (issue 15): a caption or detections their model marked
out of its training domain raise no alert while ``suppress_out_of_domain`` is on (the default),
and the log says why; in-domain evidence, and unscored evidence (the message defaults), still
alert."""

from __future__ import annotations

from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter

from perception.nodes.hazard_node import HazardNode
from perception_msgs.msg import Caption, Detection, DetectionArray, HazardAlert

SUCCESS = TransitionCallbackReturn.SUCCESS


def start(ros, **params) -> HazardNode:
    overrides = [Parameter(k, value=v) for k, v in params.items()]
    node = ros.add(HazardNode(context=ros.context, parameter_overrides=overrides))
    assert node.trigger_configure() == SUCCESS
    assert node.trigger_activate() == SUCCESS
    return node


def knife_caption(sec: int, domain_score: float | None) -> Caption:
    """A knife caption scored ``domain_score`` (> 1: out of domain), or unscored (None)."""
    msg = Caption(text="a knife on a table", score=0.9, language="en", model_id="captioner@test")
    msg.header.stamp.sec = sec
    if domain_score is not None:
        msg.domain_score, msg.in_domain = domain_score, domain_score <= 1.0
    return msg


def knife_detections(sec: int, domain_score: float) -> DetectionArray:
    msg = DetectionArray(model_id="detector@test", image_width=640, image_height=480)
    msg.header.stamp.sec = sec
    msg.detections = [Detection(class_name="knife", score=0.9, x_min=1.0, y_min=2.0, x_max=30.0, y_max=40.0)]
    msg.domain_score, msg.in_domain = domain_score, domain_score <= 1.0
    return msg


def held_back(ros, node: HazardNode, alerts: list, capfd, count: int) -> str:
    """Wait until ``count`` pieces of evidence were suppressed and analysed; assert that no alert
    came of them; return what the node logged so far."""
    assert ros.wait_for(lambda: node.counts["out_of_domain"] == count)
    assert node.wait_idle(5.0)
    assert not alerts
    return capfd.readouterr().err


def test_out_of_domain_captions_raise_no_alert_and_the_log_says_why(ros, capfd) -> None:
    node = start(ros)
    alerts = ros.collect(HazardAlert, "hazard_alerts")
    captions = ros.publisher(Caption, "caption")
    ros.wait_matched(captions)

    captions.publish(knife_caption(1, domain_score=4.2))
    logged = held_back(ros, node, alerts, capfd, count=1)
    assert "suppressing hazard evidence from out-of-domain frames" in logged
    assert "caption of captioner@test has domain_score 4.20 > 1" in logged

    captions.publish(knife_caption(2, domain_score=0.7))  # in domain: the same words alert
    assert ros.wait_for(lambda: alerts)
    assert (alerts[0].hazard, alerts[0].source, alerts[0].header.stamp.sec) == ("knife", "caption", 2)
    assert node.counts["out_of_domain"] == 1


def test_out_of_domain_detections_raise_no_alert_but_in_domain_ones_do(ros) -> None:
    node = start(ros, use_detections=True)
    alerts = ros.collect(HazardAlert, "hazard_alerts")
    detections = ros.publisher(DetectionArray, "detections")
    ros.wait_matched(detections)

    detections.publish(knife_detections(1, domain_score=2.5))
    assert ros.wait_for(lambda: node.counts["out_of_domain"] == 1)
    detections.publish(knife_detections(2, domain_score=0.4))
    assert ros.wait_for(lambda: alerts)
    assert node.wait_idle(5.0)
    assert [(a.source, a.header.stamp.sec) for a in alerts] == [("detection", 2)]


def test_unscored_evidence_alerts_and_suppression_can_be_switched_off(ros, tmp_path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "hazards:\n  knife:\n    severity: danger\n    cooldown_s: 0\n    words: [knife]\n"
        "    message: knife\n"
    )
    node = start(ros, rules_path=str(rules))
    alerts = ros.collect(HazardAlert, "hazard_alerts")
    captions = ros.publisher(Caption, "caption")
    ros.wait_matched(captions)

    unscored = knife_caption(1, domain_score=None)
    assert (unscored.in_domain, unscored.domain_score) == (True, -1.0)  # the message defaults
    captions.publish(unscored)
    assert ros.wait_for(lambda: len(alerts) == 1)

    node.set_parameters([Parameter("suppress_out_of_domain", value=False)])
    captions.publish(knife_caption(2, domain_score=9.0))
    assert ros.wait_for(lambda: len(alerts) == 2)
    assert node.counts["out_of_domain"] == 0


def test_an_in_domain_caption_near_a_frame_the_detector_flagged_raises_no_alert(ros, tmp_path, capfd) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("hazards:\n  knife:\n    severity: danger\n    cooldown_s: 0\n    words: [knife]\n")
    node = start(ros, rules_path=str(rules), use_detections=True, suppress_out_of_domain=False)
    alerts = ros.collect(HazardAlert, "hazard_alerts")
    captions = ros.publisher(Caption, "caption")
    detections = ros.publisher(DetectionArray, "detections")
    ros.wait_matched(captions)
    ros.wait_matched(detections)

    flagged = knife_detections(10, domain_score=3.0)  # the detector: frame 10 is out of its domain
    flagged.detections = []
    detections.publish(flagged)  # recorded while suppression is off, so the veto is the first log
    assert ros.wait_for(lambda: node.counts["detections"] == 1)
    node.set_parameters([Parameter("suppress_out_of_domain", value=True)])
    captions.publish(knife_caption(10, domain_score=0.6))  # the captioner: in its domain, same frame
    logged = held_back(ros, node, alerts, capfd, count=1)
    assert "caption of captioner@test is in its domain, but detections of detector@test" in logged
    assert "domain_score 3.00 > 1 on a frame 0.00 s away" in logged

    captions.publish(knife_caption(12, domain_score=0.6))  # 2 s later: beyond domain_window_s (1 s)
    assert ros.wait_for(lambda: alerts)
    assert [(a.source, a.header.stamp.sec) for a in alerts] == [("caption", 12)]

    detections.publish(flagged)
    captions.publish(knife_caption(11, domain_score=0.6))  # 1 s before the flagged frame: vetoed too
    assert ros.wait_for(lambda: node.counts["out_of_domain"] == 3)
    node.set_parameters([Parameter("cross_check_domain", value=False)])
    captions.publish(knife_caption(10, domain_score=0.6))  # cross-check off: the caption alone decides
    assert ros.wait_for(lambda: len(alerts) == 2)
    assert node.counts["out_of_domain"] == 3


def test_unscored_detections_of_a_users_own_detector_are_never_vetoed(ros, tmp_path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "hazards:\n  knife:\n    severity: danger\n    cooldown_s: 0\n    words: [knife]\n"
        "    classes: [knife]\n    message: knife\n"
    )
    node = start(ros, rules_path=str(rules), use_detections=True)
    alerts = ros.collect(HazardAlert, "hazard_alerts")
    captions = ros.publisher(Caption, "caption")
    detections = ros.publisher(DetectionArray, "detections")
    ros.wait_matched(captions)
    ros.wait_matched(detections)

    captions.publish(knife_caption(10, domain_score=5.0))  # the synthetic captioner: a real frame
    assert ros.wait_for(lambda: node.counts["out_of_domain"] == 1)
    own = knife_detections(10, domain_score=0.5)
    own.domain_score, own.in_domain = -1.0, True  # a COCO .pt: no domain statistics, not scored
    detections.publish(own)
    assert ros.wait_for(lambda: alerts)
    assert [(a.source, a.header.stamp.sec) for a in alerts] == [("detection", 10)]
    assert node.counts["out_of_domain"] == 1
