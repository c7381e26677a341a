//! The host: the registry of jobs, their states, and shutdown.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backoff::Backoff;
use crate::state::{JobState, JobStatus};

/// How a job is supervised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JobSpec {
    /// The node reports itself not ready (`/readyz` 503) while this job is failing.
    pub required: bool,
    pub backoff: Backoff,
    /// Stop restarting after this many failures in a row (`None`: retry forever).
    pub give_up_after: Option<u32>,
    /// A run that lasted at least this long was healthy: its failure starts the backoff (and the
    /// count for `give_up_after`) afresh.
    pub healthy_after: Duration,
}

impl Default for JobSpec {
    fn default() -> JobSpec {
        JobSpec {
            required: false,
            backoff: Backoff::default(),
            give_up_after: None,
            healthy_after: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a job named {0:?} is already registered")]
pub struct DuplicateJob(pub String);

/// The supervisor of a node's background jobs. Cheap to clone; every clone is the same host.
#[derive(Clone, Default)]
pub struct JobHost(Arc<Inner>);

#[derive(Default)]
struct Inner {
    jobs: Mutex<BTreeMap<String, Entry>>,
    /// The parent of every job's token: cancelling it stops them all.
    cancel: CancellationToken,
    tracker: TaskTracker,
    stopping: AtomicBool,
    /// Bumped at every change of state, so that callers can wait for a state without polling.
    changes: watch::Sender<u64>,
}

struct Entry {
    required: bool,
    state: JobState,
    restarts: u64,
    last_error: Option<String>,
    /// The current run, so that shutdown can abort a job that overstays its deadline.
    run: Option<AbortHandle>,
}

impl JobHost {
    pub fn new() -> JobHost {
        JobHost::default()
    }

    /// Starts `job` under `name`. The host calls `job` again for every restart, each time with a
    /// token that fires when the host stops; the job should then finish the work it has already
    /// acknowledged and return `Ok(())`. Returning `Err` or panicking counts as a failure.
    ///
    /// Must be called inside a tokio runtime. After shutdown has begun, the job is registered as
    /// stopped and never runs.
    pub fn spawn<F, Fut>(
        &self,
        name: impl Into<String>,
        spec: JobSpec,
        job: F,
    ) -> Result<(), DuplicateJob>
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let name = name.into();
        let stopping = self.is_stopping();
        {
            let mut jobs = self.jobs();
            if jobs.contains_key(&name) {
                return Err(DuplicateJob(name));
            }
            let state = if stopping {
                JobState::Stopped
            } else {
                JobState::Starting
            };
            jobs.insert(
                name.clone(),
                Entry {
                    required: spec.required,
                    state,
                    restarts: 0,
                    last_error: None,
                    run: None,
                },
            );
        }
        self.changed();
        if !stopping {
            let cancel = self.0.cancel.child_token();
            let host = self.clone();
            self.0
                .tracker
                .spawn(crate::supervise::supervise(host, name, spec, job, cancel));
        }
        Ok(())
    }

    /// Every job, by name.
    pub fn statuses(&self) -> Vec<JobStatus> {
        self.jobs()
            .iter()
            .map(|(name, e)| JobStatus {
                name: name.clone(),
                required: e.required,
                state: e.state,
                restarts: e.restarts,
                last_error: e.last_error.clone(),
            })
            .collect()
    }

    /// True once [`JobHost::shutdown`] has begun.
    pub fn is_stopping(&self) -> bool {
        self.0.stopping.load(Ordering::SeqCst)
    }

    /// Ready: not stopping, and no required job failing.
    pub fn is_ready(&self) -> bool {
        !self.is_stopping()
            && !self
                .jobs()
                .values()
                .any(|e| e.required && e.state.is_failing())
    }

    /// Waits until `done` holds for the jobs' statuses (checked at every change of state).
    pub async fn until(&self, mut done: impl FnMut(&[JobStatus]) -> bool) {
        let mut changes = self.0.changes.subscribe();
        while !done(&self.statuses()) {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// Cancels every job and waits up to `deadline` for them to return; jobs still running then
    /// are aborted. Returns the names of the aborted jobs. Calling it again waits again.
    pub async fn shutdown(&self, deadline: Duration) -> Vec<String> {
        self.0.stopping.store(true, Ordering::SeqCst);
        self.changed();
        self.0.cancel.cancel();
        self.0.tracker.close();
        if tokio::time::timeout(deadline, self.0.tracker.wait())
            .await
            .is_ok()
        {
            return Vec::new();
        }
        let late: Vec<String> = self
            .jobs()
            .iter()
            .filter_map(|(name, e)| {
                let run = e.run.as_ref().filter(|r| !r.is_finished())?;
                run.abort();
                Some(name.clone())
            })
            .collect();
        tracing::warn!(jobs = ?late, secs = deadline.as_secs(), "shutdown: jobs did not stop in time; aborted");
        self.0.tracker.wait().await;
        late
    }

    fn jobs(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        // A panic while holding the lock cannot leave an entry half-written (each update is one
        // assignment), so a poisoned lock is still usable.
        self.0.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn changed(&self) {
        self.0.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Updates one job's entry (the supervisor's only way in).
    pub(crate) fn update(&self, name: &str, f: impl FnOnce(&mut EntryUpdate<'_>)) {
        if let Some(e) = self.jobs().get_mut(name) {
            f(&mut EntryUpdate(e));
        }
        self.changed();
    }
}

/// What the supervisor may change in an entry.
pub(crate) struct EntryUpdate<'a>(&'a mut Entry);

impl EntryUpdate<'_> {
    pub(crate) fn state(&mut self, s: JobState) -> &mut Self {
        self.0.state = s;
        self
    }
    pub(crate) fn error(&mut self, e: String) -> &mut Self {
        self.0.last_error = Some(e);
        self
    }
    pub(crate) fn restarted(&mut self) -> &mut Self {
        self.0.restarts += 1;
        self
    }
    pub(crate) fn run(&mut self, r: AbortHandle) -> &mut Self {
        self.0.run = Some(r);
        self
    }
}
