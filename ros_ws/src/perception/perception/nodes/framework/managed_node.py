"""LifecycleNode base shared by every perception node: parameters, model, inputs, outputs.

A node declares a parameter spec (a frozen dataclass of ``param(...)`` fields) as
``parameters_spec`` and implements:

- ``load_model(params)``: build what the node runs (configure; raise to fail configure),
- ``create_outputs(params)``: publishers, made with ``self.create_output(...)``,
- ``create_inputs(params)``: subscriptions, made with ``self.create_input(...)`` (on activate).

The base declares and validates the parameters at configure (a rejected params-file value
fails configure until it is set), keeps ``self.params`` up to date for ``live`` parameters and
refuses changes to the others while configured, loads the model (or calls the
``model_factory`` seam), and tears down inputs on deactivate, outputs and the model on
cleanup, both on shutdown and error. Failures in configure are logged with their message and
leave the node unconfigured, so it can be fixed and configured again.
Image nodes use ``ImageModelNode``, which adds the latest-frame worker on top.
"""

from __future__ import annotations

import dataclasses
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Generic, TypeVar

from rcl_interfaces.msg import SetParametersResult
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.publisher import Publisher
from rclpy.qos import QoSProfile
from rclpy.subscription import Subscription

from perception.core.secrets import redact_text
from perception.nodes.framework.in_process import InProcess
from perception.nodes.framework.inbox import Inbox
from perception.nodes.framework.latest_frame import LatestFrameWorker
from perception.nodes.framework.parameters import (
    ParameterError,
    declare_parameters,
    describe_parameters,
    param,
    read_parameters,
    validate_change,
)
from perception.nodes.framework.qos import output_qos

ParamsT = TypeVar("ParamsT")
ModelT = TypeVar("ModelT")


class Output:
    """A node's lifecycle publisher that goes quiet when the node stops its inputs.

    A result still being computed when the node deactivates or is interrupted (Ctrl-C) is
    discarded and counted instead of published: after Ctrl-C the context is gone and rclpy
    would raise "publisher's context is invalid" from the worker thread.
    """

    def __init__(
        self, publisher: Publisher, node: ManagedNode, local: Callable[[Any], None] | None = None
    ) -> None:
        """``local`` also hands each published message to this process's other nodes."""
        self.publisher = publisher
        self._node = node
        self._local = local

    def publish(self, msg: Any) -> None:
        node = self._node
        if not node.outputs_open:
            node.discarded_outputs += 1
            return
        try:
            self.publisher.publish(msg)
        except Exception:
            if node.context.ok():
                raise
            node.discarded_outputs += 1  # Ctrl-C shut the context down between check and publish
            return
        if self._local is not None:
            self._local(msg)

    def listened(self) -> bool:
        """Whether anyone takes this output (a DDS subscriber, or a node of this process): an
        output only people look at (markers) need not be built for nobody."""
        return self._local is not None or self.publisher.get_subscription_count() > 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.publisher, name)


@dataclass(frozen=True)
class StartupParameters:
    """Read when the node is constructed, before any lifecycle transition."""

    autostart: bool = param(
        True, "configure and activate on start (set false under a lifecycle manager)", read_only=True
    )


class ManagedNode(LifecycleNode, ABC, Generic[ParamsT, ModelT]):
    """Lifecycle node base; see the module docstring for what subclasses implement."""

    parameters_spec: ClassVar[type]

    def __init__(
        self,
        node_name: str,
        *,
        model_factory: Callable[[ParamsT], ModelT] | None = None,
        in_process: InProcess | None = None,
        **node_kwargs: Any,
    ) -> None:
        """``model_factory`` replaces ``load_model`` (a seam for tests and embedding);
        ``in_process`` is given by the single-process container (shared camera, local topics)."""
        super().__init__(node_name, **node_kwargs)
        self._model_factory = model_factory or self.load_model
        self.in_process = in_process
        self._local_inputs: list[tuple[str, Inbox[Any]]] = []
        self.params: ParamsT | None = None
        self.model: ModelT | None = None
        self._configured = False
        self._finalized = False
        self._inputs: list[Subscription] = []
        self._outputs: list[Publisher] = []
        self.outputs_open = False
        self.discarded_outputs = 0
        # Parameters whose params-file value was rejected; configure fails until they are set.
        self._unfixed: dict[str, ParameterError] = {}
        # Declared at construction (the spec is declared at configure): main() needs it first.
        if rejected := declare_parameters(self, StartupParameters):
            raise next(iter(rejected.values()))
        self.startup = read_parameters(self, StartupParameters)
        self.add_on_set_parameters_callback(self._on_set_parameters)

    # ----------------------------------------------------------- to implement
    @abstractmethod
    def load_model(self, params: ParamsT) -> ModelT:
        """Build the model from validated parameters; raise with a clear message on failure."""

    @abstractmethod
    def create_outputs(self, params: ParamsT) -> None:
        """Create this node's publishers with ``self.create_output``."""

    def create_inputs(self, params: ParamsT) -> None:
        """Subscribe inputs with ``self.create_input`` (default: none)."""

    def prepare(self, params: ParamsT) -> None:
        """Process-wide settings the model needs before it loads (default: none)."""

    def check_parameters(self, params: ParamsT, model: ModelT) -> None:
        """Checks that need the model (e.g. class names); raise to fail configure or a live change."""

    def release_model(self, model: ModelT) -> None:
        """Free what the model holds beyond memory (files, threads, connections); default: nothing."""

    # ------------------------------------------------------------ for subclasses
    def create_output(self, msg_type: type, topic: str, qos: QoSProfile | None = None) -> Output:
        """A lifecycle publisher (silent until activate and after deactivate), destroyed on cleanup."""
        publisher = self.create_lifecycle_publisher(msg_type, topic, qos or output_qos())
        self._outputs.append(publisher)
        topic_name = publisher.topic_name
        bus = self.in_process.bus if self.in_process else None
        local = partial(bus.publish, topic_name) if bus and bus.carries(topic_name) else None
        return Output(publisher, self, local)

    def create_input(
        self, msg_type: type, topic: str, callback: Callable[[Any], None], qos: QoSProfile | None = None
    ) -> None:
        """A subscription that lives while the node is active; a topic another node of this
        process publishes arrives in-process instead (the same message object, unserialised)."""
        qos = qos or output_qos()
        resolved = self.resolve_topic_name(topic)
        bus = self.in_process.bus if self.in_process else None
        if bus is not None and bus.carries(resolved):
            self._local_inputs.append((resolved, bus.subscribe(self, resolved, callback, qos.depth)))
        else:
            self._inputs.append(self.create_subscription(msg_type, topic, callback, qos))

    def start_inputs(self, params: ParamsT) -> None:
        """Called on activate, after the publishers are activated."""
        self.outputs_open = True
        self.create_inputs(params)

    def stop_inputs(self) -> None:
        """Called on deactivate/shutdown/error: close outputs, destroy the subscriptions (idempotent)."""
        self.outputs_open = False
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        self._inputs.clear()
        for topic, inbox in self._local_inputs:
            self.in_process.bus.unsubscribe(topic, inbox)
        self._local_inputs.clear()

    def autostart(self) -> bool:
        """Configure then activate; True when the node ended active."""
        return (
            self.trigger_configure() == TransitionCallbackReturn.SUCCESS
            and self.trigger_activate() == TransitionCallbackReturn.SUCCESS
        )

    def log(self, level: int, text: str) -> None:
        """Log through ROS, or through Python logging once the context is gone.

        After Ctrl-C the node can no longer publish on /rosout and rcl reports every attempt
        as "Failed to publish log message to rosout"; teardown messages use this instead.
        """
        if self.context.ok():
            # rclpy fixes the severity per call site (a second one raises ValueError "Logger
            # severity cannot be changed between calls", Humble and newer alike): one line each.
            logger = self.get_logger()
            if level >= logging.ERROR:
                logger.error(text)
            elif level >= logging.WARNING:
                logger.warning(text)
            elif level >= logging.INFO:
                logger.info(text)
            else:
                logger.debug(text)
        else:
            logging.getLogger(self.get_name()).log(level, text)

    def stop_worker(self, worker: LatestFrameWorker, timeout: float) -> None:
        """Stop ``worker``, waiting at most ``timeout`` s for the item it is processing.

        An item still running then is discarded when it ends (its outputs are closed).
        """
        if not worker.stop(timeout):
            self.log(logging.WARNING, f"an item was still in progress after {timeout} s; result discarded")

    @property
    def finalized(self) -> bool:
        return self._finalized

    def teardown(self) -> None:
        """Stop inputs, drop outputs and the model (idempotent).

        The shutdown transition calls it; after Ctrl-C the context is gone and transitions
        cannot publish their events, so ``run_node`` calls it directly instead.
        """
        self.stop_inputs()
        self._release()
        self._finalized = True

    # ------------------------------------------------------------- lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._unfixed.update(declare_parameters(self, self.parameters_spec))
            if self._unfixed:
                raise next(iter(self._unfixed.values()))
            params = read_parameters(self, self.parameters_spec)
            self.prepare(params)
            model = self._model_factory(params)
            self.check_parameters(params, model)
        except Exception as error:  # any load failure must leave us re-configurable
            self.get_logger().error(redact_text(f"configure failed: {error}"))
            return TransitionCallbackReturn.FAILURE
        self.params, self.model = params, model
        self.create_outputs(params)
        self._configured = True
        self.get_logger().info(f"configured: {describe_parameters(params)}")
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)
        try:
            self.start_inputs(self.params)
        except Exception as error:  # rclpy would report only "error during transition"
            self.get_logger().error(redact_text(f"activate failed: {type(error).__name__}: {error}"))
            raise
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.stop_inputs()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.teardown()
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error(f"error during transition from {state.label}; tearing down to unconfigured")
        self.stop_inputs()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    # -------------------------------------------------------------- internals
    def _release(self) -> None:
        for publisher in self._outputs:
            self.destroy_lifecycle_publisher(publisher)
        self._outputs.clear()
        if self.model is not None:
            self.release_model(self.model)
        self.model = None
        self._configured = False

    def _on_set_parameters(self, parameters: Sequence[Parameter]) -> SetParametersResult:
        try:
            changes = validate_change(self.parameters_spec, parameters, self._configured)
        except ParameterError as error:
            return SetParametersResult(successful=False, reason=str(error))
        for name in changes:
            self._unfixed.pop(name, None)
        if self._configured and changes:
            updated = dataclasses.replace(self.params, **changes)
            try:
                self.check_parameters(updated, self.model)
            except Exception as error:  # the model's own error types; report them as the reason
                return SetParametersResult(successful=False, reason=redact_text(str(error)))
            self.params = updated
        return SetParametersResult(successful=True)
