"""No secret reaches a log line, /rosout, the ROS log files or an error message (issue 10).

Secrets go into every hazard-node parameter that can carry one (the webhook URL's password and
query, the bearer token in the environment variable ``webhook_token_env`` names); the node is
then driven through configure, activate, a failed delivery, a refused parameter and a failed
configure, and every captured line is searched.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from rcl_interfaces.msg import Log
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from test_hazard_node import caption

from perception.nodes.framework.parameters import describe_parameters
from perception.nodes.hazard_node import HazardNode, HazardParameters
from perception_msgs.msg import Caption

PASSWORD, API_KEY, TOKEN = "pa55-w0rd-XYZ", "api-key-QQQ", "bearer-TOKEN-777"
SECRETS = (PASSWORD, API_KEY, TOKEN)
ROSOUT_QOS = QoSProfile(
    depth=1000, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)


def test_describe_parameters_masks_secret_fields_and_urls_anywhere() -> None:
    params = HazardParameters(webhook_url=f"https://guard:{PASSWORD}@example.invalid/a?api_key={API_KEY}")
    text = describe_parameters(params)
    assert "example.invalid/a" in text and "guard" not in text
    assert PASSWORD not in text and API_KEY not in text


def test_no_secret_in_any_log_output(ros, capfd, caplog, monkeypatch) -> None:
    monkeypatch.setenv("GUARDIAN_TOKEN", TOKEN)
    rosout: list[Log] = []
    ros.io.create_subscription(Log, "/rosout", rosout.append, ROSOUT_QOS)
    dead_url = f"http://guard:{PASSWORD}@127.0.0.1:9/alerts?api_key={API_KEY}"
    overrides = {
        "notifiers": ["log", "webhook"],
        "webhook_url": dead_url,
        "webhook_retries": 1,
        "webhook_backoff_s": 0.0,
        "webhook_timeout_s": 0.5,
        "webhook_token_env": "GUARDIAN_TOKEN",
    }
    node = ros.add(
        HazardNode(  # a name of its own: rcl keeps one /rosout publisher per logger name and process
            "secrets_probe",
            context=ros.context,
            parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()],
        )
    )
    with caplog.at_level(logging.DEBUG):
        # URL credentials plus a token: refused at configure, the message must not show them.
        assert not node.autostart()
        # A value of the wrong type for the secret parameter: refused without echoing it.
        refused = node.set_parameters([Parameter("webhook_url", value=[PASSWORD])])[0]
        assert not refused.successful and PASSWORD not in refused.reason
        # Credentials only: configure, activate, a knife caption, a failed delivery, cleanup.
        node.set_parameters([Parameter("webhook_token_env", value="")])
        assert node.autostart()
        captions = ros.publisher(Caption, "caption")
        ros.wait_matched(captions)
        captions.publish(caption("a knife on a table", 1))
        assert ros.wait_for(lambda: node.counts["alerts"] == 1)
        webhook = node.model.notifiers[1]
        assert ros.wait_for(lambda: webhook.failed == 1, timeout=10.0)
        node.trigger_deactivate()
        node.trigger_cleanup()

    assert ros.wait_for(lambda: any("configure failed" in m.msg for m in rosout)), "/rosout not received"
    assert ros.wait_for(lambda: any("releasing rules" in m.msg for m in rosout))
    captured = capfd.readouterr()
    log_dir = Path(os.environ["ROS_LOG_DIR"])
    files = "\n".join(p.read_text(errors="replace") for p in log_dir.rglob("*") if p.is_file())
    outputs = {
        "stdout": captured.out,
        "stderr": captured.err,
        "python logging": caplog.text,
        "/rosout": "\n".join(m.msg for m in rosout),
        "ROS log files": files,
    }
    assert "configured: HazardParameters(" in captured.err, "the configure line must still be logged"
    assert "127.0.0.1:9/alerts" in caplog.text, "the failed delivery must still be reported"
    for where, text in outputs.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked into {where}"
