"""Hazard node in-process: rules -> alerts, cooldown on the ROS clock, detections, notifiers.

The webhook test runs a real HTTP server on 127.0.0.1 and checks the alert arrives with the
bearer token while the token never shows up in the node's output. The last test wires the
example behaviour node (examples/guide_behaviour_node.py) behind the hazard node.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from geometry_msgs.msg import Twist
from lifecycle_msgs.msg import State
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock
from std_msgs.msg import String

from perception.core.notifiers import Translator
from perception.nodes.hazard_node import HazardNode, config_file
from perception_msgs.msg import Caption, Detection, DetectionArray, HazardAlert

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
REPO = Path(__file__).resolve().parents[2]
KNIFE_MESSAGE = "Danger: a knife is in front of you. Do not reach forward."  # config/hazards.yaml
TOKEN = "s3cr3t-token-value"


class ShoutingTranslator(Translator):
    """A stand-in offline translator: upper-cases and tags the target language."""

    def translate(self, text: str, target_language: str) -> str:
        return f"[{target_language}] {text.upper()}"


def start(ros, params: dict, namespace: str = "") -> HazardNode:
    node = ros.add(
        HazardNode(
            context=ros.context,
            namespace=namespace,
            parameter_overrides=[Parameter(k, value=v) for k, v in params.items()],
        )
    )
    assert node.trigger_configure() == SUCCESS
    assert node.trigger_activate() == SUCCESS
    return node


def caption(text: str, sec: int, score: float = 0.9) -> Caption:
    msg = Caption(text=text, score=score, language="en", model_id="test")
    msg.header.frame_id = "camera"
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, 7
    return msg


def wait_processed(ros, node: HazardNode, key: str, count: int) -> None:
    assert ros.wait_for(lambda: node.counts[key] >= count), f"{key}: {node.counts}"


def test_default_rules_raise_a_knife_alert_once_per_cooldown_of_ros_time(ros) -> None:
    node = start(ros, {"use_sim_time": True}, namespace="/robot")
    alerts = ros.collect(HazardAlert, "/robot/hazard_alerts")
    clock = ros.publisher(Clock, "/clock")
    captions = ros.publisher(Caption, "/robot/caption")
    ros.wait_matched(clock)
    ros.wait_matched(captions)

    def at(seconds: int, text: str, sent: int) -> None:
        clock.publish(Clock(clock=caption("", seconds).header.stamp))
        assert ros.wait_for(lambda: node.get_clock().now().nanoseconds // 10**9 == seconds)
        captions.publish(caption(text, seconds))
        wait_processed(ros, node, "captions", sent)

    at(100, "a knife left of a red cup", 1)
    at(101, "two knives on a table", 2)  # within the 30 s cooldown: no second alert
    at(102, "a red cup", 3)
    assert ros.wait_for(lambda: alerts)
    (alert,) = alerts
    assert (alert.hazard, alert.severity, alert.source) == ("knife", HazardAlert.SEVERITY_DANGER, "caption")
    assert alert.evidence == "a knife left of a red cup" and alert.message == KNIFE_MESSAGE
    assert (alert.header.stamp.sec, alert.header.stamp.nanosec, alert.header.frame_id) == (100, 7, "camera")

    at(131, "knives on the table", 4)  # 31 s of ROS time later: the cooldown is over
    assert ros.wait_for(lambda: len(alerts) == 2)
    assert alerts[1].header.stamp.sec == 131 and alerts[1].evidence == "knives on the table"


def test_detections_raise_alerts_above_the_score_threshold(ros) -> None:
    node = start(ros, {"use_detections": True, "min_detection_score": 0.5})
    alerts = ros.collect(HazardAlert, "hazard_alerts")
    detections = ros.publisher(DetectionArray, "detections")
    ros.wait_matched(detections)

    def array(sec: int, *found: tuple[str, float]) -> DetectionArray:
        msg = DetectionArray(model_id="yolo", image_width=640, image_height=480)
        msg.header.stamp.sec = sec
        msg.detections = [
            Detection(class_name=name, score=score, x_min=10.0, y_min=20.0, x_max=50.0, y_max=90.0)
            for name, score in found
        ]
        return msg

    detections.publish(array(1, ("knife", 0.3), ("cup", 0.9)))
    detections.publish(array(2, ("scissors", 0.7), ("knife", 0.55), ("knife", 0.91)))
    wait_processed(ros, node, "detections", 2)
    assert ros.wait_for(lambda: len(alerts) == 2)
    assert [(a.hazard, a.severity, a.source) for a in alerts] == [
        ("knife", HazardAlert.SEVERITY_DANGER, "detection"),  # most severe first
        ("scissors", HazardAlert.SEVERITY_WARNING, "detection"),
    ]
    assert alerts[0].evidence == "detection: knife 0.91" and alerts[0].header.stamp.sec == 2


def test_unsure_captions_are_ignored_and_the_threshold_is_live(ros) -> None:
    node = start(ros, {"min_caption_score": 0.5})
    alerts = ros.collect(HazardAlert, "hazard_alerts")
    captions = ros.publisher(Caption, "caption")
    ros.wait_matched(captions)
    captions.publish(caption("a knife", 1, score=0.4))
    wait_processed(ros, node, "captions", 1)
    assert node.set_parameters([Parameter("min_caption_score", value=0.3)])[0].successful
    captions.publish(caption("a knife", 2, score=0.4))
    assert ros.wait_for(lambda: alerts)
    assert [a.header.stamp.sec for a in alerts] == [2]

    refused = node.set_parameters([Parameter("rules_path", value="/elsewhere.yaml")])[0]
    assert not refused.successful and "configure" in refused.reason


def test_bad_rules_fail_configure_with_the_reason_and_can_be_fixed(ros, tmp_path, capfd) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("hazards:\n  knife:\n    severity: deadly\n    words: [knife]\n")
    node = ros.add(
        HazardNode(context=ros.context, parameter_overrides=[Parameter("rules_path", value=str(rules))])
    )
    assert node.trigger_configure() == FAILURE
    assert "severity 'deadly' is not one of" in capfd.readouterr().err
    assert node._state_machine.current_state[0] == State.PRIMARY_STATE_UNCONFIGURED

    rules.write_text("hazards:\n  knife:\n    severity: danger\n    cooldown_s: 0\n    words: [knife]\n")
    assert node.trigger_configure() == SUCCESS and node.trigger_activate() == SUCCESS
    alerts = ros.collect(HazardAlert, "hazard_alerts")
    captions = ros.publisher(Caption, "caption")
    ros.wait_matched(captions)
    for sec in (1, 2):
        captions.publish(caption("a knife", sec))
    assert ros.wait_for(lambda: len(alerts) == 2), "cooldown_s 0 must alert on every caption"
    assert alerts[0].message == "danger: knife ahead"  # the default message template


def test_unknown_notifier_and_missing_token_fail_configure(ros, capfd, monkeypatch) -> None:
    monkeypatch.delenv("HAZARD_TEST_TOKEN", raising=False)
    node = ros.add(
        HazardNode(context=ros.context, parameter_overrides=[Parameter("notifiers", value=["pager"])])
    )
    assert node.trigger_configure() == FAILURE
    assert "unknown Notifier 'pager'" in capfd.readouterr().err
    webhook = [
        Parameter("notifiers", value=["log", "webhook"]),
        Parameter("webhook_url", value="http://127.0.0.1:9/alerts"),
        Parameter("webhook_token_env", value="HAZARD_TEST_TOKEN"),
    ]
    assert all(r.successful for r in node.set_parameters(webhook))
    assert node.trigger_configure() == FAILURE
    assert "HAZARD_TEST_TOKEN" in capfd.readouterr().err


@pytest.fixture
def webhook_server() -> Iterator[tuple[str, list[dict]]]:
    """A local HTTP server recording each POST's path, Authorization header and JSON body."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(
                {"path": self.path, "auth": self.headers.get("Authorization"), "json": json.loads(body)}
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alerts", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5.0)


def test_webhook_delivers_the_alert_and_never_logs_the_token(
    ros, webhook_server, monkeypatch, capfd, caplog
) -> None:
    url, received = webhook_server
    monkeypatch.setenv("HAZARD_TEST_TOKEN", TOKEN)
    params = {
        "notifiers": ["log", "webhook"],
        "webhook_url": url,
        "webhook_token_env": "HAZARD_TEST_TOKEN",
        "webhook_retries": 0,
        "translator": f"{__name__}:ShoutingTranslator",
        "target_language": "ko",
    }
    node = start(ros, params)
    alerts = ros.collect(HazardAlert, "hazard_alerts")
    captions = ros.publisher(Caption, "caption")
    ros.wait_matched(captions)
    captions.publish(caption("a knife on a table", 3))
    assert ros.wait_for(lambda: received and alerts, 10.0), "the webhook got no POST"
    (post,) = received
    assert post["path"] == "/alerts" and post["auth"] == f"Bearer {TOKEN}"
    assert post["json"]["hazard"] == "knife" and post["json"]["severity"] == "danger"
    assert post["json"]["caption"] == "a knife on a table"
    translated = f"[ko] {KNIFE_MESSAGE.upper()}"
    assert post["json"]["message"] == translated and alerts[0].message == translated

    node.trigger_shutdown()  # closes the notifiers (flushes the webhook queue)
    output = capfd.readouterr()
    logged = output.out + output.err + caplog.text
    assert "hazard knife" in caplog.text  # the log notifier reported it
    assert TOKEN not in logged


def test_rules_files_resolve_from_the_package_config_folder_or_absolute(tmp_path) -> None:
    # Found through the ament index (share/perception/config links to the file) or the source tree.
    assert config_file("hazards.yaml").resolve() == REPO / "ros_ws/src/perception/config/hazards.yaml"
    own = tmp_path / "my_rules.yaml"
    own.write_text("hazards: {}\n")
    assert config_file(str(own)) == own
    with pytest.raises(FileNotFoundError, match=r"no_such_rules\.yaml.*absolute path"):
        config_file("no_such_rules.yaml")


def _example_module():
    path = REPO / "examples" / "guide_behaviour_node.py"
    spec = importlib.util.spec_from_file_location("guide_behaviour_node", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_example_behaviour_stops_and_speaks_on_a_knife_caption(ros) -> None:
    example = _example_module()
    now = [0.0]
    hazard = start(ros, {}, namespace="/perception")
    robot = ros.add(example.GuideBehaviourNode(clock=lambda: now[0], context=ros.context))
    speech = ros.collect(String, "/speech")
    cmd_vel: list[Twist] = ros.collect(Twist, "/cmd_vel")
    # The launch graph remaps the caption node's and the hazard node's `caption` to /caption;
    # in-process the hazard node listens in its namespace, so captions go to both topics.
    publishers = [ros.publisher(Caption, topic) for topic in ("/perception/caption", "/caption")]
    for publisher in publishers:
        ros.wait_matched(publisher)
    assert ros.wait_for(lambda: robot.count_publishers("/perception/hazard_alerts") == 1)
    assert ros.wait_for(lambda: cmd_vel and cmd_vel[-1].linear.x == pytest.approx(0.2))

    def say(text: str, seq: int) -> None:
        for publisher in publishers:
            publisher.publish(caption(text, seq))

    say("a red cup", 1)
    assert ros.wait_for(lambda: "I see a red cup." in [s.data for s in speech])
    say("a knife next to a red cup", 2)
    assert ros.wait_for(lambda: KNIFE_MESSAGE in [s.data for s in speech])
    assert hazard.counts["alerts"] == 1
    count = len(cmd_vel)
    assert ros.wait_for(lambda: len(cmd_vel) > count + 2)
    assert all(t.linear.x == 0.0 for t in cmd_vel[count:]), "the robot must stop on a danger alert"

    now[0] = 5.0  # past hold_s (3 s): the robot drives again
    assert ros.wait_for(lambda: cmd_vel[-1].linear.x == pytest.approx(0.2))


def test_guide_policy_rules() -> None:
    policy = _example_module().GuidePolicy(cruise_speed=1.0, hold_s=3.0, describe_period_s=10.0)
    assert policy.on_alert(HazardAlert.SEVERITY_WARNING, "careful", now=0.0) == "careful"
    assert policy.speed(1.0) == 0.5
    policy.on_alert(HazardAlert.SEVERITY_DANGER, "stop", now=1.0)
    policy.on_alert(HazardAlert.SEVERITY_WARNING, "careful", now=2.0)  # does not relax the stop
    assert policy.speed(3.0) == 0.0 and policy.speed(4.5) == 1.0
    assert policy.on_caption("a cup", 0.9, now=0.0) == "I see a cup."
    assert policy.on_caption("a cup", 0.9, now=20.0) is None  # unchanged
    assert policy.on_caption("a bowl", 0.9, now=5.0) is None  # too soon
    assert policy.on_caption("a bowl", 0.1, now=30.0) is None  # unsure
    assert policy.on_caption("a bowl", 0.9, now=30.0) == "I see a bowl."
