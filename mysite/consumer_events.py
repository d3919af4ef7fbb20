"""What our Huey classes tell the site about their consumer: that it is stopping, and that the queue came back."""

import logging
import os

logger = logging.getLogger(__name__)


class StopAware:
    """Keeps the consumer this Huey creates, so a long-running task can see a stop signal.

    Huey's consumer sets its stop flag on SIGINT/SIGTERM and tells no one else; workers that
    loop over rows (``durable.startup.stopping()``) check it to stop claiming and exit in seconds.
    """

    consumer = None

    def create_consumer(self, **options):
        self.consumer = super().create_consumer(**options)
        stop = self.consumer.stop

        def stop_and_wake(graceful=False):
            # Workers asleep on the SQLite queue's wake-up socket would see the stop flag only after its poll
            # interval (2 s): every stop, and every test's consumer, waited that long for nothing. One datagram
            # wakes one of them.
            self.consumer.stop_flag.set()
            for _ in self.consumer.worker_threads:
                getattr(self.storage, "wake", lambda: None)()
            return stop(graceful)

        self.consumer.stop = stop_and_wake
        # Huey sets its signal handlers last, once its workers run: a SIGINT while they start (a reloaded consumer
        # Ctrl-C'd at once, seen under load) was a KeyboardInterrupt traceback with no graceful stop. Set here, in the
        # main thread before the consumer starts, they only note the signal, and the consumer's loop stops gracefully
        # as soon as it runs; Huey's own call later would undo a first SIGINT's "a second one interrupts".
        self.consumer._set_signal_handlers()
        self.consumer._set_signal_handlers = lambda: None
        logger.info("consumer %s ready: SIGINT stops it gracefully", os.getpid())
        return self.consumer

    def stopping(self):
        """True once this process's consumer was told to stop."""
        return self.consumer is not None and self.consumer.stop_flag.is_set()

    # --- Knowing the queue came back (issue 10, part 4) ------------------------------
    # While the queue is down (Redis stopped), nothing can be enqueued: the rows wait, due. The
    # workers' dequeue fails meanwhile; the first dequeue that works again runs the hooks apps
    # registered with ``on_queue_back``, which wake the due work at once (not at the sweeper).

    _queue_down = False

    def on_queue_back(self, name):
        """Decorator: call the function (no arguments) in a worker when the queue works again after failing."""

        def decorator(fn):
            self.__dict__.setdefault("_queue_back_hooks", {})[name] = fn
            return fn

        return decorator

    def dequeue(self):
        try:
            task = super().dequeue()
        except Exception:
            self._queue_down = True
            raise
        if self._queue_down:
            self._queue_down = False  # one worker runs the hooks; a second run would only wake twice
            self._queue_came_back()
        return task

    def _queue_came_back(self):
        logger.warning("the queue works again: waking the work that became due while it was down")
        for name, hook in self.__dict__.get("_queue_back_hooks", {}).items():
            try:
                hook()
            except Exception:  # noqa: BLE001 - one app's hook must not keep the others from running
                logger.exception("queue-back hook %s failed", name)
