"""PassDispatcher: request threads woken once per serving-loop pass, reads ahead of queued sends."""

from __future__ import annotations

import threading
import time

from tests.conftest import wait_until
from wamulti.http_dispatch import PassDispatcher


class RecordingTask:
    """Test double for a waitress channel: its first request's method, and when it was served."""

    def __init__(self, command: str, served: list):
        self.requests = [type("Request", (), {"command": command})()]
        self.command, self.served = command, served

    def service(self) -> None:
        self.served.append(self.command)

    def cancel(self) -> None:
        pass


def test_reads_go_ahead_of_queued_sends_in_the_order_they_came():
    served: list[str] = []
    dispatcher = PassDispatcher(0)  # no thread yet: everything stays queued
    for command in ("POST", "GET", "POST", "HEAD", "DELETE", "GET"):
        dispatcher.add_task(RecordingTask(command, served))
    assert [task.command for task in dispatcher.queue] == ["GET", "HEAD", "GET", "POST", "POST", "DELETE"]
    dispatcher.set_thread_count(1)
    dispatcher.wake_pending()
    wait_until(lambda: len(served) == 6)
    assert served == ["GET", "HEAD", "GET", "POST", "POST", "DELETE"]
    dispatcher.shutdown(timeout=2)


def test_a_task_the_loop_queues_waits_for_the_end_of_the_pass():
    served: list[str] = []
    dispatcher = PassDispatcher(2)
    wait_until(lambda: dispatcher.active_count == 0)  # both threads idle, waiting for work
    dispatcher.add_task(RecordingTask("POST", served))
    dispatcher.add_task(RecordingTask("POST", served))
    time.sleep(0.3)
    assert served == []  # queued, nobody woken yet
    dispatcher.wake_pending()
    wait_until(lambda: len(served) == 2)
    dispatcher.shutdown(timeout=2)


def test_a_task_another_thread_queues_is_served_at_once():
    served: list[str] = []
    dispatcher = PassDispatcher(1)
    wait_until(lambda: dispatcher.active_count == 0)
    other = threading.Thread(target=dispatcher.add_task, args=(RecordingTask("POST", served),))
    other.start()
    other.join()
    wait_until(lambda: served == ["POST"])  # without any wake_pending()
    dispatcher.shutdown(timeout=2)
