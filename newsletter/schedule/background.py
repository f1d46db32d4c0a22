"""APScheduler's BackgroundScheduler without its shutdown race (APScheduler 3.11).

``shutdown()`` sets the state to stopped and wakes the scheduler's thread, whose loop then runs
one more pass over the job stores: a job that is due (a schedule whose time came while a send
paused, or any row of a test whose clock lies in the past) is submitted to the executor that was
just shut down ("cannot schedule new futures after shutdown"), and removing the fired date job
then looks among the *pending* jobs of a stopped scheduler and raises ``JobLookupError`` in the
thread: an unhandled exception, and a traceback on the scheduler's stderr at every stop.
(agronholm/apscheduler#285 and #985 report the same race.)

Here no pass runs once ``shutdown()`` began: it marks the scheduler as stopping under the job
stores' lock, which every pass holds from its first look at the state to its end, so a pass in
progress finishes first and none starts after. A due job simply stays in the job store; the next
start reconciles it with ``tables.schedules`` (``SchedulerService.startup``).
"""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED


class StoppingScheduler(BackgroundScheduler):
    _stopping = False

    def start(self, paused: bool = False) -> None:
        self._stopping = False
        super().start(paused=paused)

    def shutdown(self, wait: bool = True) -> None:
        with self._jobstores_lock:  # a pass in progress ends first; every later one sees _stopping
            self._stopping = True
        super().shutdown(wait)  # wakes and joins the thread: no lock of ours may be held here

    def _process_jobs(self) -> float | None:
        with self._jobstores_lock:
            if self._stopping or self.state == STATE_STOPPED:
                return None
            return super()._process_jobs()  # type: ignore[no-any-return]
