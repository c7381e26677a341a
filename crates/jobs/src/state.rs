//! What the host knows about each job.

/// Where a job is in its life. `/metrics` reports it as `authtrail_job_state{job,state}`, using
/// [`JobState::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Registered or restarted, not yet polled.
    Starting,
    Running,
    /// It failed; the host restarts it after a delay.
    BackingOff,
    /// It returned (normally because the host is stopping).
    Stopped,
    /// It failed more times in a row than its [`crate::JobSpec::give_up_after`]; the host no
    /// longer restarts it.
    FailedPermanently,
}

impl JobState {
    pub const ALL: [JobState; 5] = [
        JobState::Starting,
        JobState::Running,
        JobState::BackingOff,
        JobState::Stopped,
        JobState::FailedPermanently,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Starting => "starting",
            JobState::Running => "running",
            JobState::BackingOff => "backing_off",
            JobState::Stopped => "stopped",
            JobState::FailedPermanently => "failed_permanently",
        }
    }

    /// A failing state: its last run ended in an error.
    pub fn is_failing(self) -> bool {
        matches!(self, JobState::BackingOff | JobState::FailedPermanently)
    }
}

/// A snapshot of one job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobStatus {
    pub name: String,
    /// The node is not ready while a required job is failing.
    pub required: bool,
    pub state: JobState,
    /// How many times the host restarted it after a failure.
    pub restarts: u64,
    /// The last failure (error chain or panic message). It may name internals, so it goes to the
    /// log and to callers that hold a token, never to `/readyz`.
    pub last_error: Option<String>,
}
